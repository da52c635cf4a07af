"""User-agent → device (os, browser, device type, brand, model), and bot detection.

Parsing uses uap-core's rules (ua-parser-builtins) through ua-parser's `regex` resolver, the compiled ua-parser-rs
matcher: `bench/useragent.py` measures it against the pure-Python `basic` resolver over the same varied agents, and
it is dozens of times faster, so it is the resolver used here. `parse_user_agent` and `detect_bot` sit behind an
LRU because the same agent arrives millions of times (4096 entries: ~2 MB for ordinary agents; API Gateway caps a
header at 10 KB, so 40 MB at worst).

Everything heavy is built once, lazily, at first use. Importing this module compiles only its own small regexes;
building the parser (ua-parser's import and its Rust matcher) and the bot matcher is most of a track function's
first event (docs/DESIGN.md §23), which an eager import would add to every cold start. Lazy keeps that off functions
that import the layer without parsing agents (the authorizer); a track request pays it once per container either
way. `warm_up()` builds both now, for a caller that prefers the init phase.

Device type: ua-parser has none, so `classify_device` decides, first rule that applies:
  server   empty agent, or one whose first product is an HTTP client or runtime (curl, Wget, Go-http-client,
           node-fetch, undici, axios, python-requests, aiohttp, httpx, okhttp, Java, Apache-HttpClient,
           PostmanRuntime, insomnia, HTTPie, Guzzle, Ruby, Dart, Deno, Bun…) or Windows PowerShell.
  desktop  smart TVs and consoles (Tizen, webOS, Android TV / Google TV, Chromecast, Fire TV, BRAVIA, Roku,
           Apple TV, HbbTV, PlayStation, Xbox). OpenPanel has no `tv` type and the API allows four: a TV is
           a large, landscape, non-touch, lean-back screen whose browser asks for desktop layouts, so
           `desktop` is the closest; `mobile`/`tablet` would mislead on layout, `server` would hide a person.
  tablet   iPad; Kindle / Silk / KF… models; Samsung SM-T / SM-X / SM-P and GT-P; Nexus 7/9/10, Pixel
           Tablet / Pixel C; Lenovo TB-… / Tab; Xiaomi / Redmi / OnePlus / Huawei pads; a "Tablet" token.
           A Mac agent carrying a `Mobile/…` token is an iPad (in-app browsers and WKWebViews on iPadOS 13+
           send the Mac agent plus Mobile/…; Macs never send Mobile/). iPadOS Safari's default
           "desktop-class" agent, though, is byte-for-byte macOS Safari's: undecidable, so it stays desktop.
  mobile   iPhone, iPod, Windows Phone, KaiOS, BlackBerry, Opera Mini, any "Mobile" token, iOS agents that
           name no device (CFNetwork, Alamofire: phones by far outnumber iPads).
  Android  without any of the above: a browser (Mozilla/…, Opera/…) is a tablet (Chrome, Firefox and
           Samsung Internet send "Mobile" on every phone), unless it names a known phone model (SM-A…,
           SM-S…, Pixel 8…); an app's agent (Dalvik/…, `App/1.0 (Android 14; Model=Pixel 8 Pro)`) never
           carries "Mobile", so it is a phone unless its model says tablet.
  desktop  Windows, macOS, Linux, ChromeOS, BSD.
  server   anything else: no end-user platform at all (bare crawlers, unknown libraries).
Known limits: an Android app's default `okhttp/…` and Flutter's `Dart/… (dart:io)` look exactly like a
server's, so they are `server` (apps should send their own agent or `__device`); Android TVs that name no
TV marker look like tablets; Windows tablets (Surface) are desktop.
An app's or a server's agent that ua-parser reads no browser from gets its first product as the browser
(`App/1.0 (…)` → App 1.0, `node-fetch/1.0` → node-fetch 1.0); OpenPanel blanks server agents, Beacon keeps
the name. OS names follow Apple's current ones (macOS, tvOS); the rest are uap-core's.

Bots (`detect_bot`), checked in order: crawler-user-agents (a maintained list, pinned) plus a few patterns it
lacks, compiled once into a single ua-parser-rs regex set; then ua-parser's device family "Spider".
HTTP libraries are never bots: the list's `http-library` entries (curl, python-requests, Go-http-client,
node-fetch, axios, okhttp…) are left out, and so are Spider agents that are server agents (ua-parser files
`Java/17` under Spider), because a server SDK sending through them must not be dropped. Filtering applies
only to requests without a client secret anyway. Types:
  crawler   fetches pages to index, preview, archive or train on them: search engines, SEO tools, AI
            crawlers, feed readers, link previews, ad and research crawlers.
  monitor   uptime and performance checks: UptimeRobot, Pingdom, StatusCake, Lighthouse, synthetic monitors.
  headless  a browser driven by a program: HeadlessChrome, PhantomJS, Puppeteer/Playwright/Selenium markers,
            jsdom, Cypress, AI browsing agents.
  bot       any other automated agent: vulnerability and network scanners, and agents ua-parser calls
            "Spider" that the list does not name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from beacon.domain.display_text import visible_text

if TYPE_CHECKING:
    from collections.abc import Callable

    import ua_parser_rs
    from ua_parser import PartialResult

DeviceType = Literal["desktop", "mobile", "tablet", "server"]
BotType = Literal["crawler", "monitor", "headless", "bot"]
DEVICE_TYPES: frozenset[str] = frozenset({"desktop", "mobile", "tablet", "server"})
CACHE_SIZE = 4096

# Override keys (the API's `__os`, `__osVersion`, … without "__") → DeviceInfo fields.
_OVERRIDE_FIELDS = {
    "os": "os",
    "osVersion": "os_version",
    "browser": "browser",
    "browserVersion": "browser_version",
    "device": "device",
    "brand": "brand",
    "model": "model",
}


@dataclass(frozen=True)
class DeviceInfo:
    os: str | None
    os_version: str | None
    browser: str | None
    browser_version: str | None
    device: str  # one of DEVICE_TYPES from the user-agent; a `__device` override may name any other kind
    brand: str | None
    model: str | None

    def with_overrides(self, overrides: Mapping[str, str]) -> DeviceInfo:
        """Given, non-empty values win, as sent (OpenPanel's rule): a `device` of the four types in lower case, any
        other (`smarttv`, `console`, an app's own label) kept as it is, invisible characters removed."""
        if not overrides:
            return self
        changes: dict[str, str] = {}
        for key, field_name in _OVERRIDE_FIELDS.items():
            value = overrides.get(key)
            if not isinstance(value, str):
                continue
            value = visible_text(value).strip()
            if not value:
                continue
            if key == "device" and value.lower() in DEVICE_TYPES:
                value = value.lower()
            changes[field_name] = value
        return replace(self, **changes) if changes else self

    def as_item(self) -> dict[str, str]:
        """The stored shape: the API's camelCase names, unknown values left out."""
        values = {key: getattr(self, field_name) for key, field_name in _OVERRIDE_FIELDS.items()}
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class BotMatch:
    name: str  # e.g. "Googlebot", "UptimeRobot", "HeadlessChrome"
    type: str  # one of "crawler", "monitor", "headless", "bot" (see the module docstring)


# --- parsing -------------------------------------------------------------------------------------------------

# Placeholders ua-parser uses when it knows no vendor, and Chrome's reduced-UA model "K".
_GENERIC_BRANDS = frozenset({"Generic", "Generic_Android", "Generic_Android_Tablet", "Generic_Inettv", "Spider"})
_PLACEHOLDER_MODELS = frozenset({"K", "Smartphone", "Tablet", "Feature Phone", "Desktop", "iOS-Device"})
_BRAND_SPELLINGS = {"XiaoMi": "Xiaomi"}  # one spelling per vendor, as app agents and _BRANDS write it
_OS_NAMES = {"Mac OS X": "macOS", "ATV OS X": "tvOS"}  # Apple's current names, as OpenPanel shows them
# ua-parser families that, for an app's own agent, name no browser.
_NOT_A_BROWSER = frozenset({"Other", "Android", "iOS", "Mobile Safari UI/WKWebView", "CFNetwork"})

_BROWSER_STYLE = re.compile(r"^(?:Mozilla|Opera)/")
_LEADING_PRODUCT = re.compile(r"^([A-Za-z][\w.\-]*)/(\S+)")
_APP_MODEL = re.compile(r"[Mm]odel=([^;)]+)")
_APP_MANUFACTURER = re.compile(r"[Mm]anufacturer=([^;)]+)")

# The classifying patterns are case-sensitive, as agents spell these tokens, and every alternative starts
# with a literal: Python's `re` then skips non-candidate positions fast (IGNORECASE or a leading \b made
# classification cost 4x the parse itself).
_SERVER_AGENT = re.compile(  # matched at the start: the agent's first product
    r"(?:curl|libcurl|wget|python|aiohttp|httpx|go-http-client|go http client|node|undici|axios|got|okhttp"
    r"|java|apache-httpclient|jakarta commons-httpclient|libwww-perl|lwp|guzzlehttp|php|postmanruntime"
    r"|insomnia|httpie|ruby|faraday|rest-client|restsharp|unirest|reactor-netty|ktor-client|dart|deno|bun"
    r"|reqwest|hyper|aws-sdk|boto3?|botocore)\b",
    re.IGNORECASE,
)
_BIG_SCREEN = re.compile(
    r"SMART-TV|SmartTV|Smart-TV|Web0S|webOS.TV|NetCast|HbbTV|BRAVIA|Android ?TV|GoogleTV|Google TV|CrKey/|Roku"
    r"|AppleTV|Apple TV|tvOS|TV Safari|PlayStation [345]|Xbox"
    r"|Android[^)]*; AFT[A-Z]"  # Amazon Fire TV models: AFTMM, AFTKA, …
)
_TABLET = re.compile(
    r"iPad|Kindle|Silk/|KF[A-Z]{2,}\b|SM-[TXP]\d|GT-P\d|Nexus (?:7|9|10)\b|Pixel (?:Tablet|C)\b|Lenovo (?:TB|Tab)"
    r"|TB-[A-Z0-9]{4,}|Xoom|PlayBook|Xiaomi Pad|Redmi Pad|OnePlus Pad|Mi Pad|MatePad|MediaPad|Galaxy Tab"
    r"|Tablet(?! PC)"  # Firefox on Android tablets; not Windows' "Tablet PC 2.0"
    r"|Macintosh.*Mobile/"  # iPadOS 13+ in-app browsers / WKWebViews: a Mac agent plus Mobile/…
)
_MOBILE = re.compile(r"iPhone|iPod|Windows Phone|KAIOS|KaiOS|BlackBerry|BB10|Opera Mini|Opera Mobi|Mobile")
_PHONE_MODEL = re.compile(
    r"SM-[ABEFGJMNSZ]\d|Pixel \d|Galaxy (?:[SAMZN]\d|Z ?F(?:old|lip)|Note)|Redmi(?! Pad)|POCO|Poco |OnePlus ?\d"
)
_DESKTOP_PLATFORM = re.compile(r"Windows|Macintosh|Mac OS X|X11|Linux|CrOS|BSD|SunOS")
_MOBILE_OS = frozenset({"iOS", "Windows Phone", "KaiOS", "BlackBerry OS", "Symbian OS", "Firefox OS", "Sailfish"})
_DESKTOP_OS = frozenset({"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian", "FreeBSD"})

# Brand from a model or manufacturer name, when ua-parser names none (app agents, generic Android devices).
_BRANDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), brand)
    for pattern, brand in (
        (r"\bsamsung\b|\bgalaxy\b|^SM-|^GT-", "Samsung"),
        (r"\bpixel\b|\bgoogle\b", "Google"),
        (r"\bxiaomi\b|\bredmi\b|\bpoco\b|^mi\b", "Xiaomi"),
        (r"\boneplus\b", "OnePlus"),
        (r"\bhuawei\b", "Huawei"),
        (r"\bhonor\b", "Honor"),
        (r"\boppo\b", "OPPO"),
        (r"\bvivo\b", "vivo"),
        (r"\bmotorola\b|\bmoto\b", "Motorola"),
        (r"\bnokia\b", "Nokia"),
        (r"\bsony\b|\bxperia\b|\bbravia\b", "Sony"),
        (r"\bnothing\b", "Nothing"),
        (r"\blenovo\b", "Lenovo"),
        (r"^AFT[A-Z]|^KF[A-Z]{2,}", "Amazon"),
        (r"\broku\b", "Roku"),
        (r"\bi(?:Phone|Pad|Pod)\b", "Apple"),
    )
)


def _version(*parts: str | None) -> str | None:
    present = []
    for part in parts:
        if part is None:
            break
        present.append(part)
    return ".".join(present) or None


def _infer_brand(name: str) -> str | None:
    return next((brand for pattern, brand in _BRANDS if pattern.search(name)), None)


@functools.cache
def _parser() -> Callable[[str], PartialResult]:
    """ua-parser's compiled resolver over uap-core's rules, resolving browser, os and device at once."""
    # Imported here: ua-parser's import and the Rust matcher are paid at first use.
    from ua_parser import Domain, load_lazy_builtins
    from ua_parser.regex import Resolver

    # Lazy matchers: the Rust resolver only reads the regex strings, Python never compiles them.
    resolver = Resolver(load_lazy_builtins())
    return lambda user_agent: resolver(user_agent, Domain.ALL)


def is_server_agent(user_agent: str) -> bool:
    """True for an empty agent or one whose first product is an HTTP client or runtime (curl/8.5.0, …)."""
    return not user_agent.strip() or _SERVER_AGENT.match(user_agent) is not None or "PowerShell/" in user_agent


def classify_device(user_agent: str, os_family: str | None = None) -> DeviceType:
    """desktop / mobile / tablet / server, by the rules in the module docstring."""
    if is_server_agent(user_agent):
        return "server"
    if _BIG_SCREEN.search(user_agent):
        return "desktop"
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent) or os_family in _MOBILE_OS:
        return "mobile"
    if os_family == "Android" or "Android" in user_agent:
        if not _BROWSER_STYLE.match(user_agent):
            return "mobile"  # an app's agent: phones unless the model said tablet (above)
        return "mobile" if _PHONE_MODEL.search(user_agent) else "tablet"
    if os_family in _DESKTOP_OS or _DESKTOP_PLATFORM.search(user_agent):
        return "desktop"
    return "server"


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_user_agent(user_agent: str) -> DeviceInfo:
    """Device details from a user-agent header; the same object is returned for a repeated agent."""
    result = _parser()(user_agent)
    agent, system, hardware = result.user_agent, result.os, result.device
    device = classify_device(user_agent, system.family if system else None)

    os_name = _OS_NAMES.get(system.family, system.family) if system and system.family != "Other" else None
    os_version = _version(system.major, system.minor, system.patch, system.patch_minor) if system else None

    browser = browser_version = None
    if agent and not (agent.family in _NOT_A_BROWSER and not _BROWSER_STYLE.match(user_agent)):
        browser = agent.family
        browser_version = _version(agent.major, agent.minor, agent.patch, agent.patch_minor)
    elif not _BROWSER_STYLE.match(user_agent) and (product := _LEADING_PRODUCT.match(user_agent)):
        browser, browser_version = product.group(1), product.group(2)  # an app or SDK names itself first

    brand = hardware.brand if hardware and hardware.brand not in _GENERIC_BRANDS else None
    model = hardware.model if hardware and hardware.model not in _PLACEHOLDER_MODELS else None
    if app_model := _APP_MODEL.search(user_agent):  # `App/1.0 (Android 14; Model=Pixel 8 Pro; Manufacturer=…)`
        model = app_model.group(1).strip()
        manufacturer = _APP_MANUFACTURER.search(user_agent)
        if manufacturer:
            name = manufacturer.group(1).strip()
            brand = _infer_brand(name) or name
        else:
            brand = _infer_brand(model) or brand
    elif brand:
        brand = _BRAND_SPELLINGS.get(brand, brand)
    elif model:
        brand = _infer_brand(model)

    if device == "tablet" and os_name == "macOS":  # iPadOS sending a Mac agent; its 10_15_7 is frozen
        os_name, os_version, brand, model = "iOS", None, "Apple", "iPad"

    return DeviceInfo(
        os=_shown(os_name),
        os_version=_shown(os_version),
        browser=_shown(browser),
        browser_version=_shown(browser_version),
        device=device,
        brand=_shown(brand),
        model=_shown(model),
    )


def _shown(value: str | None) -> str | None:
    """A field as stored: parts of the agent ua-parser and the app patterns copy may hold control or format
    characters (U+202E and the like, domain/display_text.py); without them, nothing left is no value."""
    if value is None:
        return None
    return visible_text(value).strip() or None


# --- bots ----------------------------------------------------------------------------------------------------

# crawler-user-agents tags → our type; the first tag found in this order wins.
_TAG_TYPES: tuple[tuple[str, BotType], ...] = (
    ("browser-automation", "headless"),
    ("monitoring", "monitor"),
    ("scanner", "bot"),
)
_NOT_BOTS_TAG = "http-library"  # curl, python-requests, Go-http-client, node-fetch…: server SDKs, never bots

# What crawler-user-agents 1.67.0 lacks (each checked against it): pattern, type.
_EXTRA_BOT_PATTERNS: tuple[tuple[str, BotType], ...] = (
    (r"\bjsdom/", "headless"),
    (r"\bCypress/", "headless"),
    (r"\bSlimerJS\b", "headless"),
    (r"\bHtmlUnit\b", "headless"),
    (r"\bPrerender\b", "headless"),
    (r"\bRendertron\b", "headless"),
    (r"Datadog/Synthetics", "monitor"),
    (r"\bNewRelicPinger\b", "monitor"),
    (r"\bCloudWatchSynthetics\b", "monitor"),
    (r"\bFreshping\b", "monitor"),
    (r"\bRuxitSynthetic\b", "monitor"),
    # Crawler frameworks the list files under http-library; they are crawlers, not SDKs.
    (r"\bScrapy/", "crawler"),
    (r"\bHTTrack\b", "crawler"),
)
# Agents the list would flag that are people: Slack's desktop app carries "Sonic" (its codename), which the
# list's `Sonic` crawler pattern matches.
_NOT_BOTS = re.compile(r"\bSlack_SSB/")
_READABLE_NAME = re.compile(r"^[A-Za-z0-9][\w .\-]*$")


@dataclass(frozen=True)
class _BotRules:
    patterns: tuple[str, ...]
    types: tuple[BotType, ...]
    matcher: ua_parser_rs.UserAgentExtractor  # one regex set; the "family" it returns is the pattern's index


def _bot_type(tags: list[str]) -> BotType:
    return next((bot_type for tag, bot_type in _TAG_TYPES if tag in tags), "crawler")


@functools.cache
def _bot_rules() -> _BotRules:
    # Imported here: the package reads its 0.5 MB JSON at import.
    import crawleruseragents  # type: ignore[import-untyped]
    import ua_parser_rs

    entries: list[tuple[str, BotType]] = [
        (entry["pattern"], _bot_type(entry.get("tags", [])))
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        if _NOT_BOTS_TAG not in entry.get("tags", [])
    ]
    entries.extend(_EXTRA_BOT_PATTERNS)
    # The Rust engine matches all the patterns at once, far faster than one big alternation in Python's `re`
    # (bench/useragent.py). It reports the first pattern in list order that matches, as the list's own helper does.
    matcher = ua_parser_rs.UserAgentExtractor(
        (pattern, str(index), None, None, None, None) for index, (pattern, _) in enumerate(entries)
    )
    return _BotRules(
        patterns=tuple(pattern for pattern, _ in entries),
        types=tuple(bot_type for _, bot_type in entries),
        matcher=matcher,
    )


def _bot_name(pattern: str, user_agent: str) -> str:
    """The text the pattern matched ("Googlebot/" → "Googlebot"), or ua-parser's name when that text is a URL."""
    found = re.search(pattern, user_agent)
    text = found.group(0).strip(" /;:(),+") if found else ""
    if _READABLE_NAME.match(text):
        return text
    parsed = _parser()(user_agent).user_agent
    return parsed.family if parsed and parsed.family != "Other" else text or pattern


@functools.lru_cache(maxsize=CACHE_SIZE)
def detect_bot(user_agent: str) -> BotMatch | None:
    """The bot a user-agent announces, or None for browsers, apps and server agents."""
    if not user_agent.strip() or _NOT_BOTS.search(user_agent):
        return None
    rules = _bot_rules()
    if found := rules.matcher.extract(user_agent):
        index = int(found.family)
        return BotMatch(name=_bot_name(rules.patterns[index], user_agent), type=rules.types[index])
    if is_server_agent(user_agent):
        return None  # ua-parser files some HTTP clients (Java/…) under Spider
    parsed = _parser()(user_agent)
    if parsed.device and parsed.device.family == "Spider":
        family = parsed.user_agent.family if parsed.user_agent else "Other"
        return BotMatch(name=family if family != "Other" else "Spider", type="bot")
    return None


def warm_up() -> None:
    """Build the parser and the bot matcher now instead of at the first request."""
    _parser()
    _bot_rules()
