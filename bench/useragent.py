"""User-agent parsing benchmark: ua-parser's compiled resolver against its pure-Python one, and Beacon's caches.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.useragent
Prints median µs per agent over the same varied agents, the ratios, and the cold-start cost of building
everything; writes them to bench/results/useragent.json. Takes ~15 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from beacon.domain import useragent
from bench.report import machine, write_results

AGENTS = [
    # desktop browsers
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
    " Edg/124.0.2478.51",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
    " Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
    " Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    # phones
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
    " Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0"
    " Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 12; en-us; Redmi Note 11 Build/SKQ1.211103.001) AppleWebKit/537.36 (KHTML, like"
    " Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.6-gn",
    "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
    " [FBAN/FBIOS;FBAV/451.0.0.40.109;FBBV/560089484;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/17.3.1;FBSS/3;"
    "FBID/phone;FBLC/en_US;FBOP/5;FBRV/561547936]",
    "Mozilla/5.0 (Mobile; Nokia_8110_4G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
    # tablets
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6"
    " Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like"
    " Chrome/124.0.6367.82 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel Tablet) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
    " Safari/537.36",
    # TVs and consoles
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV"
    " Safari/537.36",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36"
    " WebAppManager",
    "Roku/DVP-9.10 (519.10E04111A)",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0"
    " Safari/605.1.15",
    # apps
    "App/1.0 (Android 14; Model=Pixel 8 Pro)",
    "MyApp/2.3 (iPhone; iOS 17.4; Scale/3.00)",
    "Dalvik/2.1.0 (Linux; U; Android 14; SM-S911B Build/UP1A.231005.007)",
    "MyApp/1 CFNetwork/1494.0.7 Darwin/23.4.0",
    # server agents
    "curl/8.5.0",
    "Go-http-client/1.1",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "Java/17.0.10",
    "",
    # bots
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109"
    " Safari/537.36",
]


def _mean_us(call: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(repeat):
        call()
    return (time.perf_counter_ns() - start) / repeat / 1000


def _median_us(per_agent: Callable[[str], float]) -> float:
    return statistics.median(per_agent(agent) for agent in AGENTS)


def _uncached_us(function: Any, agent: str, samples: int) -> float:
    """Median time of a call that misses the cache (it is emptied before each)."""
    times = []
    for _ in range(samples):
        function.cache_clear()
        start = time.perf_counter_ns()
        function(agent)
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times)


def _cached_us(function: Any, agent: str, repeat: int) -> float:
    function(agent)
    return _mean_us(lambda: function(agent), repeat)


_COLD_START = """
import collections.abc, dataclasses, functools, json, re, time, typing  # stdlib any Lambda has loaded already
t0 = time.perf_counter()
from beacon.domain import useragent
t1 = time.perf_counter()
useragent.{first}
t2 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000}}))
"""


def _cold_start_ms(first: str, runs: int) -> dict[str, float]:
    """Median over fresh interpreters: importing the module, then running `first`."""
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", _COLD_START.format(first=first)], capture_output=True, text=True, check=True
        ).stdout
        samples.append(json.loads(output))
    return {key: round(statistics.median(sample[key] for sample in samples), 2) for key in samples[0]}


def run() -> dict[str, Any]:
    import re

    import crawleruseragents  # type: ignore[import-untyped]
    from ua_parser import BasicResolver, Domain, load_builtins, load_lazy_builtins
    from ua_parser.regex import Resolver as RegexResolver

    started = time.perf_counter()
    build_ms: dict[str, float] = {}
    t0 = time.perf_counter()
    rust = RegexResolver(load_lazy_builtins())
    build_ms["regex_resolver"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    basic = BasicResolver(load_builtins())  # eager matchers: every regex compiled by Python here
    build_ms["basic_resolver"] = (time.perf_counter() - t0) * 1000
    for agent in AGENTS:  # warm both (and any lazy state) before timing
        rust(agent, Domain.ALL)
        basic(agent, Domain.ALL)

    patterns = [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    python_alternation = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))

    median_us = {
        "regex_resolver_uncached": _median_us(lambda a: _mean_us(lambda: rust(a, Domain.ALL), 300)),
        "basic_resolver_uncached": _median_us(lambda a: _mean_us(lambda: basic(a, Domain.ALL), 10)),
        "parse_user_agent_first_call": _median_us(lambda a: _uncached_us(useragent.parse_user_agent, a, 50)),
        "parse_user_agent_cached": _median_us(lambda a: _cached_us(useragent.parse_user_agent, a, 5000)),
        "detect_bot_first_call": _median_us(lambda a: _uncached_us(useragent.detect_bot, a, 50)),
        "detect_bot_cached": _median_us(lambda a: _cached_us(useragent.detect_bot, a, 5000)),
        "bot_list_python_re_alternation": _median_us(lambda a: _mean_us(lambda: python_alternation.search(a), 3)),
    }
    median_us = {key: round(value, 3) for key, value in median_us.items()}
    ratios = {
        "basic_over_regex_resolver": round(
            median_us["basic_resolver_uncached"] / median_us["regex_resolver_uncached"], 1
        ),
        "parse_first_over_cached": round(
            median_us["parse_user_agent_first_call"] / median_us["parse_user_agent_cached"], 1
        ),
        "detect_bot_first_over_cached": round(median_us["detect_bot_first_call"] / median_us["detect_bot_cached"], 1),
    }
    cold_start_ms = {
        "lazy": _cold_start_ms("parse_user_agent('curl/8.5.0')", runs=5),
        "warm_up": _cold_start_ms("warm_up()", runs=5),
        "parser_only": _cold_start_ms("_parser()", runs=5),
        "bot_rules_only": _cold_start_ms("_bot_rules()", runs=5),
    }
    return {
        "machine": machine(),
        "packages": {name: version(name) for name in ("ua-parser", "ua-parser-rs", "crawler-user-agents")},
        "agents": len(AGENTS),
        "median_us_per_agent": median_us,
        "ratios": ratios,
        "resolver_build_ms_in_process": {key: round(value, 1) for key, value in build_ms.items()},
        "cold_start_ms": cold_start_ms,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    results = run()
    median_us, ratios, cold = results["median_us_per_agent"], results["ratios"], results["cold_start_ms"]
    print(f"{results['agents']} agents, {results['machine']}")
    print("median µs per agent")
    for key, value in median_us.items():
        print(f"  {key:34} {value:10.3f}")
    print(
        f"ratios: basic/regex resolver {ratios['basic_over_regex_resolver']}×, "
        f"parse first/cached {ratios['parse_first_over_cached']}×, "
        f"detect_bot first/cached {ratios['detect_bot_first_over_cached']}×"
    )
    print("cold start, fresh interpreter (median of 5, ms)")
    print(f"  import beacon.domain.useragent (lazy)   {cold['lazy']['import_ms']:8.1f}")
    print(f"  first parse_user_agent (builds parser) {cold['lazy']['first_ms']:8.1f}")
    print(f"  warm_up(): parser + bot rules          {cold['warm_up']['first_ms']:8.1f}  (what an eager import adds)")
    print(f"    parser alone                         {cold['parser_only']['first_ms']:8.1f}")
    print(f"    bot rules alone                      {cold['bot_rules_only']['first_ms']:8.1f}")
    print(f"total {results['seconds']} s")
    print(f"written to {write_results('useragent', results)}")


if __name__ == "__main__":
    main()
