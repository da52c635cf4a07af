"""User-agent → device details and device type, and bot detection, on real user-agent strings."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from dataclasses import dataclass

import crawleruseragents  # type: ignore[import-untyped]
import pytest

from beacon.domain.useragent import BotMatch, DeviceInfo, detect_bot, parse_user_agent
from tests.constants import ROOT

ANY = object()  # a detail the row does not assert


@dataclass(frozen=True)
class Case:
    id: str
    agent: str
    device: str
    os: object = ANY
    browser: object = ANY
    brand: object = ANY
    model: object = ANY
    undecidable: str | None = None  # why the true device cannot be told from the agent


# Real agents, as browsers, apps and libraries send them (vendors' documentation, uap-core's and OpenPanel's test
# data, server logs). Expected values are what the device is, except for the row marked undecidable.
TABLE = [
    # desktop browsers
    Case(
        "chrome-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36",
        "desktop",
        os="Windows",
        browser="Chrome",
        brand=None,
        model=None,
    ),
    Case(
        "firefox-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        os="Windows",
        browser="Firefox",
    ),
    Case(
        "edge-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36 Edg/124.0.2478.51",
        "desktop",
        os="Windows",
        browser="Edge",
    ),
    Case(
        "opera-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0"
        " Safari/537.36 OPR/109.0.0.0",
        "desktop",
        os="Windows",
        browser="Opera",
    ),
    Case(
        "ie11-windows7",
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "desktop",
        os="Windows",
        browser="IE",
    ),
    Case(
        "safari-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
        " Safari/605.1.15",
        "desktop",
        os="macOS",
        browser="Safari",
        brand="Apple",
        model="Mac",
    ),
    Case(
        "chrome-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36",
        "desktop",
        os="macOS",
        browser="Chrome",
    ),
    Case(
        "firefox-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        os="macOS",
        browser="Firefox",
    ),
    Case(
        "edge-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36 Edg/124.0.0.0",
        "desktop",
        os="macOS",
        browser="Edge",
    ),
    Case(
        "firefox-linux",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        os="Linux",
        browser="Firefox",
    ),
    Case(
        "firefox-ubuntu",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
        "desktop",
        os="Ubuntu",
        browser="Firefox",
    ),
    Case(
        "chrome-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        os="Linux",
        browser="Chrome",
    ),
    Case(
        "vivaldi-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
        " Vivaldi/6.7.3329.21",
        "desktop",
        os="Linux",
        browser="Vivaldi",
    ),
    Case(
        "chrome-chromeos",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36",
        "desktop",
        os="Chrome OS",
        browser="Chrome",
    ),
    Case(
        "yandex-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " YaBrowser/24.4.0.0 Safari/537.36",
        "desktop",
        os="Windows",
        browser="Yandex Browser",
    ),
    Case(
        "slack-desktop-electron",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.38.125"
        " Chrome/122.0.6261.156 Electron/29.4.0 Safari/537.36 Sonic Slack_SSB/4.38.125",
        "desktop",
        os="macOS",
        browser="Slack Desktop Client",
    ),
    # iPhone and iPod
    Case(
        "safari-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/17.4.1 Mobile/15E148 Safari/604.1",
        "mobile",
        os="iOS",
        browser="Mobile Safari",
        brand="Apple",
        model="iPhone",
    ),
    Case(
        "chrome-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        "mobile",
        os="iOS",
        browser="Chrome Mobile iOS",
        brand="Apple",
        model="iPhone",
    ),
    Case(
        "firefox-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
        "mobile",
        os="iOS",
        browser="Firefox iOS",
        brand="Apple",
        model="iPhone",
    ),
    Case(
        "edge-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/17.0 EdgiOS/124.2478.50 Mobile/15E148 Safari/605.1.15",
        "mobile",
        os="iOS",
        browser="Edge Mobile",
    ),
    Case(
        "safari-ipod",
        "Mozilla/5.0 (iPod touch; CPU iPhone OS 15_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/15.6.1 Mobile/15E148 Safari/604.1",
        "mobile",
        os="iOS",
        brand="Apple",
        model="iPod",
    ),
    # iPad
    Case(
        "safari-ipad",
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6"
        " Mobile/15E148 Safari/604.1",
        "tablet",
        os="iOS",
        browser="Mobile Safari",
        brand="Apple",
        model="iPad",
    ),
    Case(
        "chrome-ipad",
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88"
        " Mobile/15E148 Safari/604.1",
        "tablet",
        os="iOS",
        browser="Chrome Mobile iOS",
        brand="Apple",
        model="iPad",
    ),
    Case(
        "ipados-webview",
        "Mozilla/5.0 (iPad; iPadOS 18_0; like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/18.0",
        "tablet",
        os="iOS",
        brand="Apple",
        model="iPad",
    ),
    Case(
        "ipados-wkwebview-mac-agent",  # iPadOS 13+ WKWebView: a Mac agent, but Macs never send Mobile/…
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "tablet",
        os="iOS",
        brand="Apple",
        model="iPad",
    ),
    Case(
        "ipados-desktop-class-safari",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
        " Safari/605.1.15",
        "desktop",
        os="macOS",
        browser="Safari",
        undecidable="an iPad, but iPadOS 13+ Safari sends macOS Safari's agent byte for byte: reported as desktop",
    ),
    # Android phones
    Case(
        "chrome-android-reduced",  # Chrome's reduced agent: model "K", "Mobile" on phones
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile"
        " Safari/537.36",
        "mobile",
        os="Android",
        browser="Chrome Mobile",
        brand=None,
        model=None,
    ),
    Case(
        "chrome-pixel-8",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile"
        " Safari/537.36",
        "mobile",
        os="Android",
        browser="Chrome Mobile",
        brand="Google",
        model="Pixel 8",
    ),
    Case(
        "edge-pixel-8-pro",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82"
        " Mobile Safari/537.36 EdgA/124.0.2478.64",
        "mobile",
        os="Android",
        browser="Edge Mobile",
        brand="Google",
        model="Pixel 8 Pro",
    ),
    Case(
        "samsung-internet-galaxy-s23-ultra",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0"
        " Chrome/117.0.0.0 Mobile Safari/537.36",
        "mobile",
        os="Android",
        browser="Samsung Internet",
        brand="Samsung",
        model="SM-S918B",
    ),
    Case(
        "chrome-galaxy-a53",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile"
        " Safari/537.36",
        "mobile",
        os="Android",
        brand="Samsung",
        model="SM-A536B",
    ),
    Case(
        "chrome-galaxy-z-fold5",
        "Mozilla/5.0 (Linux; Android 14; SM-F946B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile"
        " Safari/537.36",
        "mobile",
        os="Android",
        brand="Samsung",
        model="SM-F946B",
    ),
    Case(
        "truncated-galaxy-a50",  # from OpenPanel's tests: no "Mobile", but SM-A… is a phone
        "Mozilla/5.0 (Linux; Android 10; SM-A505FN) AppleWebKit/537.36",
        "mobile",
        os="Android",
        brand="Samsung",
        model="SM-A505FN",
    ),
    Case(
        "miui-redmi-note-11",
        "Mozilla/5.0 (Linux; U; Android 12; en-us; Redmi Note 11 Build/SKQ1.211103.001) AppleWebKit/537.36 (KHTML,"
        " like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.6-gn",
        "mobile",
        os="Android",
        browser="MiuiBrowser",
        brand="Xiaomi",
        model="Redmi Note 11",
    ),
    Case(
        "huawei-browser-harmonyos",
        "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.11.0.332) AppleWebKit/537.36 (KHTML, like"
        " Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.1.300 Mobile Safari/537.36",
        "mobile",
        os="Android",
        browser="Huawei Browser",
        brand="Huawei",
    ),
    Case(
        "uc-browser-realme",
        "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2185 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like"
        " Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
        "mobile",
        os="Android",
        browser="UC Browser",
        model="RMX2185",
    ),
    Case(
        "firefox-android-phone",
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        "mobile",
        os="Android",
        browser="Firefox Mobile",
        brand=None,
        model=None,
    ),
    Case(
        "opera-mini-android",
        "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        "mobile",
        os="Android",
        browser="Opera Mini",
    ),
    Case(
        "edge-windows-phone",
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        "mobile",
        os="Windows Phone",
        model="Lumia 950",
    ),
    Case(
        "kaios-nokia-8110",
        "Mozilla/5.0 (Mobile; Nokia_8110_4G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
        "mobile",
        os="KaiOS",
        brand="Nokia",
    ),
    # in-app browsers and webviews
    Case(
        "android-webview",
        "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
        "mobile",
        os="Android",
        browser="Chrome Mobile WebView",
        brand="Samsung",
        model="SM-G991B",
    ),
    Case(
        "facebook-android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/454.0.0.44.108;]",
        "mobile",
        os="Android",
        browser="Facebook",
        brand="Google",
        model="Pixel 7",
    ),
    Case(
        "facebook-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Mobile/15E148 [FBAN/FBIOS;FBAV/451.0.0.40.109;FBBV/560089484;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;"
        "FBSV/17.3.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/561547936]",
        "mobile",
        os="iOS",
        browser="Facebook",
        brand="Apple",
        model="iPhone15,3",
    ),
    Case(
        "facebook-ipad",
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
        " [FBAN/FBIOS;FBAV/455.0.0.36.112;FBBV/563425212;FBDV/iPad13,18;FBMD/iPad;FBSN/iPadOS;FBSV/17.4;FBSS/2;"
        "FBID/tablet;FBLC/en_US;FBOP/5]",
        "tablet",
        os="iOS",
        browser="Facebook",
        brand="Apple",
        model="iPad13,18",
    ),
    Case(
        "instagram-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Mobile/15E148 Instagram 326.0.3.29.91 (iPhone14,5; iOS 17_4; en_US; en; scale=3.00; 1170x2532; 588348180)",
        "mobile",
        os="iOS",
        browser="Instagram",
        brand="Apple",
        model="iPhone14,5",
    ),
    Case(
        "instagram-android",
        "Mozilla/5.0 (Linux; Android 13; SM-A546B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Version/4.0 Chrome/122.0.6261.105 Mobile Safari/537.36 Instagram 321.0.0.39.106 Android (33/13; 450dpi;"
        " 1080x2131; samsung; SM-A546B; a54x; s5e8835; en_GB; 577210397)",
        "mobile",
        os="Android",
        browser="Instagram",
        brand="Samsung",
        model="SM-A546B",
    ),
    Case(
        "tiktok-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Mobile/15E148 musical_ly_34.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en Region/US"
        " RevealType/Dialog isDarkMode/0 WKWebView/1 BytedanceWebview/d8a21c6",
        "mobile",
        os="iOS",
        browser="TikTok",
        brand="Apple",
    ),
    # Android tablets
    Case(
        "chrome-galaxy-tab-s9",
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36",
        "tablet",
        os="Android",
        browser="Chrome",
        brand="Samsung",
        model="SM-X710",
    ),
    Case(
        "chrome-galaxy-tab-s7",
        "Mozilla/5.0 (Linux; Android 11; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"
        " Safari/537.36",
        "tablet",
        os="Android",
        brand="Samsung",
        model="SM-T870",
    ),
    Case(
        "samsung-internet-galaxy-tab-a9",
        "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0"
        " Chrome/115.0.0.0 Safari/537.36",
        "tablet",
        os="Android",
        browser="Samsung Internet",
        brand="Samsung",
        model="SM-X200",
    ),
    Case(
        "chrome-pixel-tablet",
        "Mozilla/5.0 (Linux; Android 14; Pixel Tablet) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
        " Safari/537.36",
        "tablet",
        os="Android",
        brand="Google",
        model="Pixel Tablet",
    ),
    Case(
        "chrome-lenovo-tab-p11",
        "Mozilla/5.0 (Linux; Android 12; Lenovo TB-J606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"
        " Safari/537.36",
        "tablet",
        os="Android",
        brand="Lenovo",
        model="TB-J606F",
    ),
    Case(
        "silk-kindle-fire",
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like"
        " Chrome/124.0.6367.82 Safari/537.36",
        "tablet",
        os="Android",
        browser="Amazon Silk",
        brand="Amazon",
    ),
    Case(
        "chrome-nexus-7",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 7 Build/MOB30X) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/58.0.3029.83 Safari/537.36",
        "tablet",
        os="Android",
        model="Nexus 7",
    ),
    Case(
        "firefox-android-tablet",
        "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
        "tablet",
        os="Android",
        browser="Firefox Mobile",
        brand=None,
        model=None,
    ),
    Case(
        "chrome-android-reduced-tablet",  # Chrome's reduced agent without "Mobile": a tablet
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "tablet",
        os="Android",
        brand=None,
        model=None,
    ),
    Case(
        "chrome-xiaomi-pad-6",  # a bare model number: tablet because Chrome sends no "Mobile"
        "Mozilla/5.0 (Linux; Android 13; 23043RP34G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"
        " Safari/537.36",
        "tablet",
        os="Android",
        model="23043RP34G",
    ),
    # smart TVs and consoles: desktop (see the module docstring)
    Case(
        "samsung-tizen-tv",
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV"
        " Safari/537.36",
        "desktop",
        os="Tizen",
        brand="Samsung",
    ),
    Case(
        "lg-webos-tv",
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36"
        " WebAppManager",
        "desktop",
        os="Web0S",
        brand="LG",
    ),
    Case(
        "sony-bravia-android-tv",
        "Mozilla/5.0 (Linux; Android 9; BRAVIA 4K GB ATV3 Build/PTT1.190515.001.S52) AppleWebKit/537.36 (KHTML, like"
        " Gecko) Chrome/88.0.4324.152 Safari/537.36",
        "desktop",
        os="Android",
        brand="Sony",
    ),
    Case(
        "chromecast-google-tv",
        "Mozilla/5.0 (Linux; Android 12.0; Build/STTL.240206.002) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/118.0.5993.117 Safari/537.36 CrKey/1.56.500000 DeviceType/AndroidTV",
        "desktop",
        brand="Google",
    ),
    Case(
        "fire-tv-webview",
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7633.3445N; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
        "desktop",
        os="Android",
        brand="Amazon",
        model="AFTMM",
    ),
    Case("roku", "Roku/DVP-9.10 (519.10E04111A)", "desktop", os="Roku", brand="Roku"),
    Case(
        "apple-tv",
        "AppleCoreMedia/1.0.0.21J354 (Apple TV; U; CPU OS 17_0 like Mac OS X; en_us)",
        "desktop",
        os="tvOS",
        brand="Apple",
    ),
    Case(
        "playstation-5",
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0"
        " Safari/605.1.15",
        "desktop",
        brand="Sony",
        model="PlayStation 5",
    ),
    Case(
        "xbox-one-edge",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
        "desktop",
        os="Windows",
    ),
    # apps' own agents
    Case(
        "app-android-pixel",
        "App/1.0 (Android 14; Model=Pixel 8 Pro)",
        "mobile",
        os="Android",
        browser="App",
        brand="Google",
        model="Pixel 8 Pro",
    ),
    Case(
        "app-android-manufacturer",
        "App/1.0 (Android 12; Model=POCO X5; Manufacturer=Xiaomi)",
        "mobile",
        os="Android",
        brand="Xiaomi",
        model="POCO X5",
    ),
    Case(
        "app-android-galaxy",
        "App/1.0 (Android 13; Model=Galaxy S23 Ultra)",
        "mobile",
        os="Android",
        brand="Samsung",
        model="Galaxy S23 Ultra",
    ),
    Case(
        "app-android-tablet",
        "App/1.0 (Android 14; Model=SM-X710; Manufacturer=samsung)",
        "tablet",
        os="Android",
        brand="Samsung",
        model="SM-X710",
    ),
    Case(
        "app-iphone",
        "MyApp/2.3 (iPhone; iOS 17.4; Scale/3.00)",
        "mobile",
        os="iOS",
        browser="MyApp",
        brand="Apple",
        model="iPhone",
    ),
    Case(
        "app-ipad",
        "MyApp/2.3 (iPad; iOS 17.4; Scale/2.00)",
        "tablet",
        os="iOS",
        browser="MyApp",
        brand="Apple",
        model="iPad",
    ),
    Case(
        "app-alamofire-ios",
        "MyApp/1.0 (com.example.myapp; build:42; iOS 17.4.1) Alamofire/5.9.1",
        "mobile",
        os="iOS",
        browser="MyApp",
    ),
    Case(
        "app-cfnetwork-ios",
        "MyApp/1 CFNetwork/1494.0.7 Darwin/23.4.0",
        "mobile",
        os="iOS",
        browser="MyApp",
        brand="Apple",
        model=None,
    ),
    Case(
        "dalvik-galaxy-s23",
        "Dalvik/2.1.0 (Linux; U; Android 14; SM-S911B Build/UP1A.231005.007)",
        "mobile",
        os="Android",
        browser="Dalvik",
        brand="Samsung",
        model="SM-S911B",
    ),
    Case(
        "dalvik-galaxy-tab-s9",
        "Dalvik/2.1.0 (Linux; U; Android 13; SM-X700 Build/TP1A.220624.014)",
        "tablet",
        os="Android",
        brand="Samsung",
        model="SM-X700",
    ),
    # server agents
    Case("curl", "curl/8.5.0", "server", os=None, browser="curl", brand=None, model=None),
    Case("go", "Go-http-client/1.1", "server", os=None, browser="Go-http-client"),
    Case("node-fetch-bare", "node-fetch/1.0", "server", os=None, browser="node-fetch"),
    Case("node-fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "server", browser="node-fetch"),
    Case("python-requests", "python-requests/2.32.3", "server", os=None, browser="Python Requests"),
    Case("axios", "axios/1.7.2", "server", browser="axios"),
    Case("okhttp", "okhttp/4.12.0", "server", browser="okhttp"),
    Case("java", "Java/17.0.10", "server", browser="Java", brand=None, model=None),
    Case("wget", "Wget/1.21.4", "server", browser="Wget"),
    Case("postman", "PostmanRuntime/7.39.0", "server", browser="PostmanRuntime"),
    Case("empty", "", "server", os=None, browser=None, brand=None, model=None),
    Case("apache-httpclient", "Apache-HttpClient/4.5.14 (Java/17.0.10)", "server"),
    Case("aiohttp", "Python/3.11 aiohttp/3.9.5", "server"),
    Case("httpx", "python-httpx/0.27.0", "server", browser="python-httpx"),
    Case(
        "powershell",
        "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
        "server",
        os="Windows",
    ),
    Case("node-native-fetch", "node", "server", browser=None),
    Case("undici", "undici", "server"),
    Case("guzzle", "GuzzleHttp/7", "server", browser="GuzzleHttp"),
    Case("ruby", "Ruby", "server"),
    Case("deno", "Deno/1.42.4", "server", browser="Deno"),
    Case("bun", "Bun/1.1.8", "server", browser="Bun"),
    Case("dart", "Dart/3.3 (dart:io)", "server", browser="Dart"),
    Case("httpie", "HTTPie/3.2.2", "server", browser="HTTPie", brand=None, model=None),
    Case("insomnia", "insomnia/2023.5.8", "server"),
]


def agent_of(case_id: str) -> str:
    return next(case.agent for case in TABLE if case.id == case_id)


def _asserted(case: Case) -> dict[str, object]:
    expected = {"os": case.os, "browser": case.browser, "brand": case.brand, "model": case.model}
    return {key: value for key, value in expected.items() if value is not ANY}


@pytest.mark.parametrize("case", TABLE, ids=lambda case: case.id)
def test_user_agent_yields_the_expected_device_details(case: Case) -> None:
    # Given a real user-agent string
    # When it is parsed
    info = parse_user_agent(case.agent)

    # Then the device type, and the details the row asserts, are as expected
    assert info.device == case.device
    assert {key: getattr(info, key) for key in _asserted(case)} == _asserted(case)


def test_device_classification_is_exact_on_every_decidable_row_of_the_table() -> None:
    # Given the table: at least 40 real agents covering every kind of device
    decidable = [case for case in TABLE if case.undecidable is None]
    assert len(TABLE) >= 40
    assert {case.device for case in TABLE} == {"desktop", "mobile", "tablet", "server"}

    # When every agent is classified
    correct = [case for case in decidable if parse_user_agent(case.agent).device == case.device]

    # Then all decidable rows are right; only the documented undecidable row is not a true reading
    assert len(correct) == len(decidable)
    assert [case.id for case in TABLE if case.undecidable] == ["ipados-desktop-class-safari"]


def test_ipados_desktop_class_safari_cannot_be_told_from_macos_safari() -> None:
    # Given iPadOS 13+ Safari's default agent, which is macOS Safari's
    ipad = agent_of("ipados-desktop-class-safari")

    # When it is parsed
    info = parse_user_agent(ipad)

    # Then it reads as a Mac (nothing in it says iPad), while a Mac agent with Mobile/… reads as an iPad
    assert (info.device, info.os) == ("desktop", "macOS")
    assert parse_user_agent(ipad.replace("Version/17.4 Safari/605.1.15", "Mobile/15E148")).device == "tablet"


def test_smart_tv_without_a_tv_marker_is_not_mistaken_for_a_phone() -> None:
    # Given Fire TV's webview, which says "Mobile Safari"
    fire_tv = agent_of("fire-tv-webview")

    # When it is parsed
    info = parse_user_agent(fire_tv)

    # Then its AFT… model makes it a TV, reported as desktop
    assert info.device == "desktop"


def test_windows_tablet_pc_token_does_not_make_a_tablet() -> None:
    # Given IE on a touch-screen Windows laptop, which announces "Tablet PC 2.0"
    agent = (
        "Mozilla/5.0 (Windows NT 6.2; WOW64; Trident/7.0; Touch; .NET4.0E; .NET4.0C; Tablet PC 2.0; rv:11.0) like Gecko"
    )

    # When it is parsed
    # Then it is a desktop
    assert parse_user_agent(agent).device == "desktop"


# --- overrides, stored shape, cache -----------------------------------------------------------------------------


def test_overrides_win_over_parsed_values() -> None:
    # Given an iPhone agent and every override the API accepts
    info = parse_user_agent(agent_of("safari-iphone"))
    overrides = {
        "os": "Custom OS",
        "osVersion": "1.0",
        "browser": "Custom Browser",
        "browserVersion": "2.0",
        "device": "tablet",
        "brand": "Custom Brand",
        "model": "Custom Model",
    }

    # When they are applied
    overridden = info.with_overrides(overrides)

    # Then each given value wins
    assert overridden == DeviceInfo(
        os="Custom OS",
        os_version="1.0",
        browser="Custom Browser",
        browser_version="2.0",
        device="tablet",
        brand="Custom Brand",
        model="Custom Model",
    )


def test_override_of_some_fields_keeps_the_parsed_others() -> None:
    # Given a parsed Chrome on Windows
    info = parse_user_agent(agent_of("chrome-windows"))

    # When only the model is overridden
    overridden = info.with_overrides({"model": "Surface Pro 9"})

    # Then the rest is as parsed, and the cached original is untouched
    assert overridden.model == "Surface Pro 9"
    assert (overridden.os, overridden.browser, overridden.device) == ("Windows", "Chrome", "desktop")
    assert info.model is None


def test_empty_overrides_are_ignored_and_other_device_kinds_kept_as_sent() -> None:
    # Given a parsed iPhone
    info = parse_user_agent(agent_of("safari-iphone"))

    # When overrides are empty (or invisible only), nothing changes
    assert info.with_overrides({"os": "", "device": "\u200b", "brand": " "}) == info

    # And a device kind beyond Beacon's four (a smart TV, a console, an app's own label) is kept as sent, as
    # OpenPanel keeps it; one of the four is normalized to lower case
    assert info.with_overrides({"device": "smarttv"}).device == "smarttv"
    assert info.with_overrides({"device": "Quest 3\u202e"}).device == "Quest 3"
    assert info.with_overrides({"device": "Server"}).device == "server"


@pytest.mark.parametrize(
    "agent",
    [
        pytest.param(
            "Evil\u202eApp/1.0\u202e\u200b (Android 14; Model=Pix\u202eel 8; Manufacturer=Goo\u2066gle)", id="app"
        ),
        pytest.param("Mozilla/5.0 (Linux; Android 14; Pixel\u202e 8 Build/AP1A) Chrome/131.0.0.0 Mobile", id="browser"),
        pytest.param("curl\u202e/8.5.0\u200f\ufeff", id="server"),
        pytest.param("App/1\u2028.0 (Model=A\u0007B)", id="separators-and-controls"),
    ],
)
def test_parsed_fields_keep_no_control_or_format_characters(agent: str) -> None:
    # Given a user agent with invisible format characters (U+202E RIGHT-TO-LEFT OVERRIDE, zero-width and direction
    # marks, a byte order mark), a line separator or a control character inside the names it yields
    # When it is parsed
    info = parse_user_agent(agent)

    # Then no stored field keeps any of them
    for value in info.as_item().values():
        assert all(unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp") for char in value), value


def test_as_item_uses_the_api_names_and_omits_unknown_values() -> None:
    # Given a device with some details unknown
    info = DeviceInfo(
        os="Android",
        os_version="14",
        browser=None,
        browser_version=None,
        device="mobile",
        brand="Google",
        model=None,
    )

    # When it is shaped for storage
    item = info.as_item()

    # Then keys are camelCase and None values are left out
    assert item == {"os": "Android", "osVersion": "14", "device": "mobile", "brand": "Google"}


def test_as_item_of_a_full_parse_has_every_key() -> None:
    # Given a fully described phone
    info = parse_user_agent(agent_of("chrome-pixel-8"))

    # When it is shaped for storage
    # Then all seven keys are present
    assert set(info.as_item()) == {"os", "osVersion", "browser", "browserVersion", "device", "brand", "model"}


def test_repeated_agent_is_answered_from_the_cache_with_the_identical_object() -> None:
    # Given an agent parsed and checked once
    agent = agent_of("firefox-windows")
    first, first_bot = parse_user_agent(agent), detect_bot(agent)
    hits = parse_user_agent.cache_info().hits

    # When the same agent arrives again (a different string object with the same text)
    again = parse_user_agent("".join(list(agent)))

    # Then the cached object itself is returned
    assert again is first
    assert parse_user_agent.cache_info().hits == hits + 1
    assert detect_bot(agent) is first_bot


# --- bots ---------------------------------------------------------------------------------------------------------

BOTS = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "crawler"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot",
        "crawler",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
        " Chrome/116.0.1938.76 Safari/537.36",
        "bingbot",
        "crawler",
    ),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot", "crawler"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "GPTBot",
        "crawler",
    ),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot", "crawler"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "facebookexternalhit", "crawler"),
    ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "UptimeRobot", "monitor"),
    ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "Pingdom", "monitor"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169"
        " Safari/537.36 StatusCake",
        "StatusCake",
        "monitor",
    ),
    ("NewRelicPinger/1.0 (1234567)", "NewRelicPinger", "monitor"),  # not in the list: ours
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109"
        " Safari/537.36",
        "HeadlessChrome",
        "headless",
    ),
    (
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "PhantomJS",
        "headless",
    ),
    ("Mozilla/5.0 (linux) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/22.1.0", "jsdom", "headless"),  # ours
    ("Scrapy/2.11.2 (+https://scrapy.org)", "Scrapy", "crawler"),  # the list files it under http-library
    ("Mozilla/5.0 zgrab/0.x", "zgrab", "bot"),  # a scanner
    ("Mozilla/5.0 (compatible; Acmebot/3.1; +https://acme.example)", "Acmebot", "bot"),  # only ua-parser's Spider
]


@pytest.mark.parametrize(("agent", "name", "bot_type"), BOTS, ids=[name for _, name, _ in BOTS])
def test_bot_agents_are_detected_with_name_and_type(agent: str, name: str, bot_type: str) -> None:
    # Given a crawler, monitor, headless browser or other bot
    # When its agent is checked
    found = detect_bot(agent)

    # Then it is named and typed
    assert found == BotMatch(name=name, type=bot_type)


@pytest.mark.parametrize("case", TABLE, ids=lambda case: case.id)
def test_people_apps_and_server_agents_are_not_bots(case: Case) -> None:
    # Given any agent of the device table: browsers, webviews, TVs, apps, and server SDKs' HTTP clients
    # When it is checked for bots
    # Then none is one (Slack's desktop app matches the list's "Sonic" pattern, and is excepted)
    assert detect_bot(case.agent) is None


@pytest.mark.parametrize(
    "agent", ["curl/8.5.0", "python-requests/2.32.3", "Go-http-client/1.1", "node-fetch/1.0", "okhttp/4.12.0"]
)
def test_http_libraries_are_deliberately_not_bots_although_the_list_has_them(agent: str) -> None:
    # Given an HTTP library's agent, which crawler-user-agents lists (tag http-library)
    assert crawleruseragents.is_crawler(agent)

    # When it is checked
    # Then it is not a bot: a server SDK sending through it must not be dropped
    assert detect_bot(agent) is None
    assert parse_user_agent(agent).device == "server"


def test_java_is_not_a_bot_although_ua_parser_files_it_under_spider() -> None:
    # Given Java's default HTTP client agent, which ua-parser's device rules call "Spider"
    # When it is checked
    # Then it is a server agent, not a bot
    assert detect_bot("Java/17.0.10") is None


def test_every_example_in_the_maintained_list_is_detected() -> None:
    # Given every example agent crawler-user-agents gives for its (non-library) patterns
    examples = [
        example
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        if "http-library" not in entry.get("tags", [])
        for example in entry["instances"]
    ]

    # When each is checked
    missed = [example for example in examples if detect_bot(example) is None]

    # Then the single compiled regex set finds them all
    assert len(examples) > 1500
    assert missed == []


def test_importing_the_module_builds_nothing() -> None:
    # Given a fresh interpreter
    code = (
        "import sys; from beacon.domain import useragent; "
        "print(sorted(m for m in ('ua_parser', 'ua_parser_rs', 'crawleruseragents') if m in sys.modules))"
    )

    # When it imports the module
    layer = ROOT / "layers" / "beacon"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(layer)},
    )

    # Then neither the parser nor the bot list has been loaded: that waits for the first agent
    assert result.stdout.strip() == "[]"
