"""Event names that are probes, not analytics: vulnerability scanners and injection attempts fired at the tracking
endpoint. OpenPanel refuses such names (a 400); so does Beacon, and keeps them in the rejected-events table.

The rule follows OpenPanel's behaviour (a case-insensitive substring list, URL paths that scanners request, line
breaks); the list is Beacon's own. A name is refused when it
- holds a line break (no SDK sends one in an event name);
- holds, in any case, one of BLOCKED_FRAGMENTS: out-of-band scanner hosts, SQL, shell, template and XML injection,
  path traversal, and files scanners look for;
- or is a URL path that scanners request: a path to a .php file or a config/dump file in the root, a hidden file
  (`/.env`), WordPress or phpMyAdmin.
Plain Python: the request models apply it while validating the event's name.
"""

from __future__ import annotations

import re

BLOCKED_FRAGMENTS = (
    # out-of-band interaction hosts of security scanners
    "oastify.com",
    "burpcollaborator",
    "interact.sh",
    "oast.me",
    "oast.fun",
    # SQL injection
    "union select",
    "union all select",
    "pg_sleep",
    "waitfor delay",
    "xp_cmdshell",
    "xp_dirtree",
    "load_file(",
    "extractvalue(",
    "updatexml(",
    "dbms_pipe.receive_message",
    "exec master.dbo",
    "declare @",
    "' or '",
    "' and '",
    "') or ",
    "')and ",
    # command injection
    "/bin/bash",
    "/bin/sh ",
    "/bin/sleep",
    "cmd.exe",
    "nslookup ",
    "wget http",
    "wget+http",
    "curl http",
    "chmod 777",
    "chmod+777",
    # code execution (Java, PHP)
    "runtime.getruntime",
    "processbuilder",
    "eval-stdin.php",
    # template and expression injection (`${jndi:…}` among them)
    "${",
    "%{",
    "#{",
    # path traversal
    "../",
    "..\\",
    "%2e%2e",
    "%u002e%u002e",
    "/etc/passwd",
    "/etc/shadow",
    "win.ini",
    "system.ini",
    # XML external entities
    "<!doctype",
    "<!entity",
    "<xi:include",
    "xsi:schemalocation",
    # files and directories scanners look for
    "phpinfo.php",
    "wp-config.php",
    "wp-login.php",
    ".git/config",
    ".env.bak",
    ".env.backup",
    "/vendor/phpunit/",
    "/cgi-bin/",
    "/setup.cgi?",
    "mozi.m",
    # header injection
    "bcc:",
)
# One alternation, searched once per name, rather than a substring test per fragment.
_FRAGMENTS = re.compile("|".join(re.escape(fragment) for fragment in BLOCKED_FRAGMENTS))
_SCANNED_PATHS = re.compile(
    r"""^/(
        [a-z0-9_-]+\.(php|env|ya?ml|json|xml|config|ini|bak|sql|log)  # a config or dump file in the root
      | \.[a-z]                                                     # a hidden file or directory: /.env, /.git
      | wp-|wordpress                                               # WordPress
      | phpmyadmin                                                  # phpMyAdmin
      | .+\.php$                                                    # any PHP script
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def is_blocked_event_name(name: str) -> bool:
    if "\n" in name or "\r" in name:
        return True
    if _FRAGMENTS.search(name.lower()) is not None:
        return True
    return name.startswith("/") and _SCANNED_PATHS.match(name) is not None
