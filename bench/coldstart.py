"""Cold-start benchmark (issue 8, measurement 3): a fresh process that imports a function and serves its first
event, against a fresh process that only does ``import boto3`` (which every Lambda pays anyway).

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.coldstart [--source-only]
Takes about 30 s (plus, the first time, a download of boto3 for Python 3.13 into .local/bench/).
``--source-only`` builds the layer without its byte code, to see what shipping it saves.

What runs, and why it is close to Lambda:
- The interpreter is CPython 3.13, the functions' runtime (BEACON_PYTHON313, python3.13 on PATH or a pyenv
  install; without one the benchmark says so and skips).
- The layer is built by layers/beacon/Makefile, the recipe `sam build` runs, with the same requirements, the
  same removals (boto3/botocore/s3transfer, bin/, tests/, foreign byte code) and the same byte code; only
  PLATFORM is this machine's (manylinux2014_x86_64 here, aarch64 in the real build) so its wheels import here.
  The functions are built by their own Makefiles. Nothing comes from the dev venv.
- Lambda provides boto3: one `pip install --target` of the boto3 version pinned in requirements-run.txt, made by
  Python 3.13 and so with its byte code compiled. That is how the runtime's copy is taken to be shipped (its
  site-packages are installed by pip, which compiles; AWS documents no figure either way). The function's
  processes find it last on sys.path, after the function and the layer, as /var/runtime comes after /var/task
  and /opt/python; the baseline process has it alone, as a Lambda without Beacon's layer.
- /opt and /var/task are read-only in Lambda, so nothing imported from the layer or the function can leave a
  __pycache__ behind: every process runs with ``-B``. Byte code counts only where it is *shipped*.
- The child gets the function's environment from template.yaml (local/template.py), Lambda's own variables
  (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, a sampled _X_AMZN_TRACE_ID, AWS_XRAY_DAEMON_ADDRESS on
  127.0.0.1) so Powertools' Tracer is live as under the template's `Tracing: Active`, and dummy credentials.
- The first event is real work against DynamoDB Local and the Secrets Manager emulator (local.stack, in
  memory, on free ports): the track function stores events/track.json's event (authorizer context given);
  the authorizer checks events/authorizer.json's headers, rewritten to a client created for the run. So the
  first event's cost includes creating AWS clients and the first calls, as in Lambda. Nothing leaves 127.0.0.1.

Each figure is the median of ROUNDS fresh processes per kind, interleaved (baseline, track, authorizer, in a
rotating order) so machine noise hits all of them; a warm-up round (page cache) is not counted. The target
ratio is on the process's wall time (spawn to exit, as the parent sees it); beside it, the same ratio without
the interpreter's own start-up (timed inside the child from its first line) and on CPU time (steadier on a
busy machine). Extra, untimed processes give the breakdown: one per function with ``-X importtime`` (where
init goes), and SECOND_EVENT_RUNS per function that serve a second, warm event (what the first event spends
only once, for the SnapStart estimate). Writes bench/results/coldstart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import print_ratios, ratio, write_results
from local.stack import LocalStack
from local.template import ROOT, read_template

ROUNDS = 9
SECOND_EVENT_RUNS = 3
TARGET = 1.5
CACHE_DIR = ROOT / ".local" / "bench"
CHILD = Path(__file__).parent / "coldstart_child.py"
FUNCTIONS = {"track": "TrackFunction", "authorizer": "AuthorizerFunction"}
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


# -- the target Python and what Lambda provides ---------------------------------------------------------------
def find_python313() -> str | None:
    """A working CPython 3.13: BEACON_PYTHON313, python3.13 on PATH, or a pyenv install."""
    candidates = [os.environ.get("BEACON_PYTHON313", ""), shutil.which("python3.13") or ""]
    candidates += sorted(str(path) for path in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if answer.stdout.strip() == "True":
            return candidate
    return None


def pinned_boto3() -> str:
    """The boto3 that running Beacon pins (requirements-run.txt, since `make run` installs only what it needs)."""
    match = re.search(r"^boto3==(\S+)", (ROOT / "requirements-run.txt").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError("requirements-run.txt pins no boto3 version")
    return match.group(1)


def runtime_sdk(python313: str) -> Path:
    """boto3 as the Lambda runtime provides it, installed once per version (compiled by Python 3.13)."""
    version = pinned_boto3()
    target = CACHE_DIR / f"runtime-boto3-{version}-cp313"
    if not (target / "boto3").is_dir():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="boto3-", dir=CACHE_DIR))
        pip = [python313, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore"]
        subprocess.run(
            [*pip, "--target", str(staging), f"boto3=={version}"],
            check=True,
        )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def build(workdir: Path, bytecode: bool) -> dict[str, Path]:
    """The layer and the functions, each by the Makefile `sam build` runs, for this machine's platform."""
    started = time.perf_counter()
    layer = workdir / "layer"
    make = ["make", "--no-print-directory", "-s"]
    platform_tag = f"manylinux2014_{platform.machine()}"
    variables = [f"ARTIFACTS_DIR={layer}", f"PLATFORM={platform_tag}", f"PYTHON={sys.executable}"]
    made = subprocess.run(
        [*make, "-C", "layers/beacon", "build-BeaconLayer", *variables, *([] if bytecode else ["PYC_PYTHON="])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise RuntimeError(f"building the layer failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")
    for line in made.stdout.splitlines():
        if line.startswith("note:"):
            print(line)
    built = {"layer": layer / "python"}
    for name, logical_id in FUNCTIONS.items():
        task = workdir / name
        task.mkdir()
        subprocess.run(
            [*make, "-C", f"functions/{name}", f"build-{logical_id}", f"ARTIFACTS_DIR={task}"], cwd=ROOT, check=True
        )
        built[name] = task
    print(f"built the layer ({platform_tag}) and functions in {time.perf_counter() - started:.1f} s")
    return built


# -- the first events --------------------------------------------------------------------------------------------
def authorizer_event(stack: LocalStack, prefix: str, id_key_secret: str) -> dict[str, Any]:
    from beacon.domain.auth import create_client
    from beacon.domain.entities import ClientType
    from beacon.store.clients import SecretsManagerClientStore, read_client_id_key

    secretsmanager = stack.boto3_client("secretsmanager")
    store = SecretsManagerClientStore(prefix, cache_seconds=0, client=secretsmanager)
    id_key = read_client_id_key(id_key_secret, secretsmanager)
    record, secret = create_client("bench-coldstart", ClientType.WRITE, datetime.now(UTC), id_key=id_key)
    store.put_client(record)
    event: dict[str, Any] = json.loads((ROOT / "events" / "authorizer.json").read_text())
    for name, value in (("openpanel-client-id", record.client_id), ("openpanel-client-secret", secret)):
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def lambda_environment(stack: LocalStack, function_env: dict[str, str], task: Path, daemon_port: int) -> dict[str, str]:
    """What Lambda sets, what template.yaml sets, and where the local services are."""
    local = stack.env
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "beacon-coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "app.lambda_handler",
        "_X_AMZN_TRACE_ID": TRACE_ID,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_REGION": local["AWS_REGION"],
        "AWS_DEFAULT_REGION": local["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": local["AWS_ENDPOINT_URL_DYNAMODB"],
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": local["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        **function_env,
    }


# -- one fresh process ---------------------------------------------------------------------------------------------
class Runner:
    def __init__(self, python313: str, workdir: Path) -> None:
        self.python = python313
        self.workdir = workdir
        self.count = 0

    def run(self, config: dict[str, Any], env: dict[str, str], extra_flags: tuple[str, ...] = ()) -> dict[str, Any]:
        self.count += 1
        out = self.workdir / f"result-{self.count}.json"
        argv = [self.python, "-I", "-B", *extra_flags, str(CHILD), json.dumps({**config, "out": str(out)})]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        child = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall_ms = (time.perf_counter() - started) * 1000
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # only this child was waited for in between
        if child.returncode != 0 or not out.exists():
            raise RuntimeError(f"cold-start child failed ({child.returncode}): {child.stderr.decode()[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        result["wall_ms"] = wall_ms
        result["cpu_ms"] = 1000 * sum(
            getattr(cpu_after, field) - getattr(cpu_before, field) for field in ("ru_utime", "ru_stime")
        )
        result["stderr"] = child.stderr.decode()
        return result


# -- where init goes ---------------------------------------------------------------------------------------------
def importtime_breakdown(stderr: str, top: int = 12) -> dict[str, Any]:
    """`-X importtime` lines → self time per top-level package, and the heaviest direct imports of app."""
    per_package: dict[str, int] = defaultdict(int)
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cumulative_us, name = (part for part in re.split(r"[:|]", line, maxsplit=3))
        depth = (len(name) - len(name.lstrip())) // 2
        module = name.strip()
        per_package[module.split(".")[0]] += int(self_us)
        rows.append((depth, module, int(self_us), int(cumulative_us)))
    app_depth = next((depth for depth, module, _, _ in rows if module == "app"), 0)
    # Post-order: a module's children come before it, one level deeper. Direct imports of app = depth + 1.
    direct = [(module, cumulative) for depth, module, _, cumulative in rows if depth == app_depth + 1]
    total_us = sum(per_package.values())
    return {
        "total_import_ms": round(total_us / 1000, 1),
        "self_ms_by_package": {
            name: round(us / 1000, 1) for name, us in sorted(per_package.items(), key=lambda kv: -kv[1])[:top]
        },
        "app_direct_imports_cumulative_ms": {
            module: round(us / 1000, 1) for module, us in sorted(direct, key=lambda kv: -kv[1])[:top]
        },
    }


def print_breakdown(name: str, breakdown: dict[str, Any]) -> None:
    print(f"  {name}: every import in the process took {breakdown['total_import_ms']} ms under -X importtime")
    packages = list(breakdown["self_ms_by_package"].items())
    directs = list(breakdown["app_direct_imports_cumulative_ms"].items())
    print(f"    {'self time by package':<34} {'ms':>7}   {'imported by app.py (cumulative)':<44} {'ms':>7}")
    for index in range(max(len(packages), len(directs))):
        left = f"{packages[index][0]:<34} {packages[index][1]:>7}" if index < len(packages) else " " * 42
        right = f"{directs[index][0][-44:]:<44} {directs[index][1]:>7}" if index < len(directs) else ""
        print(f"    {left}   {right}")


# -- the run ---------------------------------------------------------------------------------------------------------
def summary(results: list[dict[str, Any]]) -> dict[str, float]:
    return {
        key: round(statistics.median(result[key] for result in results), 1)
        for key in ("wall_ms", "cpu_ms", "total_ms", "init_ms", "first_event_ms")
    }


def measure(python313: str, workdir: Path, bytecode: bool = True) -> dict[str, Any]:
    built = build(workdir, bytecode)
    sdk = runtime_sdk(python313)
    template = read_template()
    functions = template.functions()
    runner = Runner(python313, workdir)
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # X-Ray daemon stand-in: takes segments, reads none
    daemon.bind(("127.0.0.1", 0))
    stack = LocalStack(data_dir=None, log_dir=workdir / "logs")
    try:
        stack.start_services()
        stack.prepare(template)
        track_env = functions["TrackFunction"].environment
        auth_env = functions["AuthorizerFunction"].environment
        events = {
            "track": json.loads((ROOT / "events" / "track.json").read_text()),
            "authorizer": authorizer_event(stack, auth_env["CLIENT_SECRET_PREFIX"], auth_env["CLIENT_ID_KEY_SECRET"]),
        }
        port = daemon.getsockname()[1]
        envs = {
            "track": lambda_environment(stack, track_env, built["track"], port),
            "authorizer": lambda_environment(stack, auth_env, built["authorizer"], port),
        }
        envs["baseline"] = envs["track"]
        configs = {
            name: {
                "mode": "function",
                "module": "app",
                "handler": "lambda_handler",
                "event": json.dumps(events[name]),
                "path": [str(built[name]), str(built["layer"]), str(sdk)],
            }
            for name in FUNCTIONS
        }
        # What every Lambda pays: the runtime's boto3, without Beacon's layer (whose urllib3, dateutil, jmespath
        # and six would otherwise shadow the runtime's, as they do in the functions' processes).
        configs["baseline"] = {"mode": "baseline", "path": [str(sdk)]}
        kinds = ["baseline", "track", "authorizer"]
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        started = time.perf_counter()
        for round_number in range(ROUNDS + 1):
            order = kinds[round_number % 3 :] + kinds[: round_number % 3]
            for kind in order:
                result = runner.run(configs[kind], envs[kind])
                if kind != "baseline" and result["status"] not in ("200", "Allow"):
                    raise RuntimeError(f"{kind}'s first event failed: {result['status']}")
                if round_number > 0:  # round 0 warms the page cache
                    runs[kind].append(result)
        seconds = time.perf_counter() - started
        breakdown = {
            name: importtime_breakdown(runner.run(configs[name], envs[name], ("-X", "importtime"))["stderr"])
            for name in FUNCTIONS
        }
        second_event_ms = {
            name: round(
                statistics.median(
                    runner.run({**configs[name], "second_event": True}, envs[name])["second_event_ms"]
                    for _ in range(SECOND_EVENT_RUNS)
                ),
                1,
            )
            for name in FUNCTIONS
        }
    finally:
        stack.stop()
        daemon.close()
    layer_files = list(built["layer"].rglob("*"))
    return {
        "python": subprocess.run([python313, "-VV"], capture_output=True, text=True, check=True).stdout.strip(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "boto3": pinned_boto3(),
        "layer_ships_bytecode": any(path.suffix == ".pyc" for path in layer_files),
        "rounds": ROUNDS,
        "median_ms": {kind: summary(results) for kind, results in runs.items()},
        "runs_ms": {kind: [round(result["wall_ms"], 1) for result in results] for kind, results in runs.items()},
        "modules_loaded": {kind: results[0]["modules"] for kind, results in runs.items()},
        "importtime": breakdown,
        "second_event_ms": second_event_ms,
        "snapstart": {name: snapstart_estimate(summary(runs[name]), second_event_ms[name]) for name in FUNCTIONS},
        "measure_seconds": round(seconds, 1),
    }


def snapstart_estimate(median: dict[str, float], second_event_ms: float) -> dict[str, float]:
    """What a SnapStart snapshot could skip: init always; the first event's one-time work (clients, parsers, the
    salt: first event minus a warm second one) only if the function did that work before the snapshot."""
    one_time = max(median["first_event_ms"] - second_event_ms, 0.0)
    total = median["total_ms"]
    return {
        "init_ms": median["init_ms"],
        "first_event_one_time_ms": round(one_time, 1),
        "warm_event_ms": second_event_ms,
        "init_share": round(median["init_ms"] / total, 2),
        "init_and_one_time_share": round(min((median["init_ms"] + one_time) / total, 1.0), 2),
    }


def ratios_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    median = results["median_ms"]
    base = median["baseline"]
    entries = []
    for name in FUNCTIONS:
        own = median[name]
        detail = (
            f"{own['wall_ms']:.0f} ms vs {base['wall_ms']:.0f} ms (import boto3) per fresh process; "
            f"without interpreter start-up {own['total_ms']:.0f} vs {base['total_ms']:.0f} ms = "
            f"{own['total_ms'] / base['total_ms']:.2f}x (init {own['init_ms']:.0f} + first event "
            f"{own['first_event_ms']:.0f} ms); CPU time {own['cpu_ms']:.0f} vs {base['cpu_ms']:.0f} ms = "
            f"{own['cpu_ms'] / base['cpu_ms']:.2f}x"
        )
        value = own["wall_ms"] / base["wall_ms"]
        entries.append(ratio(f"cold start {name} / import boto3", value, TARGET, "<=", detail))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold start against import boto3 (bench/coldstart.py).")
    parser.add_argument("--source-only", action="store_true", help="build the layer without its byte code")
    args = parser.parse_args()
    python313 = find_python313()
    if python313 is None:
        print("cold start: skipped, no Python 3.13 found (set BEACON_PYTHON313, or put python3.13 on PATH)")
        return
    with tempfile.TemporaryDirectory(prefix="beacon-coldstart-") as workdir:
        results = measure(python313, Path(workdir), bytecode=not args.source_only)
    results["ratios"] = ratios_of(results)
    print(f"cold start ({results['python'].splitlines()[0]}, median of {ROUNDS} fresh processes each):")
    for kind, median in results["median_ms"].items():
        print(
            f"  {kind:<11} wall {median['wall_ms']:>6.0f} ms (CPU {median['cpu_ms']:>5.0f})"
            f" | in process {median['total_ms']:>6.0f} ms = init {median['init_ms']:>5.0f}"
            f" + first event {median['first_event_ms']:>5.0f} | {results['modules_loaded'][kind]} modules"
        )
    print(f"  layer ships byte code: {'yes' if results['layer_ships_bytecode'] else 'no'}")
    for name, estimate in results["snapstart"].items():
        print(
            f"  SnapStart, {name}: a snapshot after init skips {estimate['init_ms']:.0f} ms "
            f"({estimate['init_share']:.0%} of the in-process cold start); the first event's one-time work "
            f"({estimate['first_event_one_time_ms']:.0f} ms; a warm event takes {estimate['warm_event_ms']:.0f}) "
            f"only if done before the snapshot ({estimate['init_and_one_time_share']:.0%} together)"
        )
    print("where init goes (one extra process each, -X importtime):")
    for name, breakdown in results["importtime"].items():
        print_breakdown(name, breakdown)
    print_ratios(results["ratios"])
    path = write_results("coldstart", results)
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
