#!/usr/bin/python3
"""The OpenAPI file of klok-api is valid and in step with the code.

1. producer-api/openapi.yaml validates against the OpenAPI specification (3.0 or 3.1, as the file
   says) with openapi-spec-validator, pinned below and installed with pip into
   .klok-test/pylib/ (the repository's ignored test directory) on the first run; later runs find
   it there and install nothing.
2. Code and spec agree:
   - every route of API_ROUTE_MAP (producer-api/api_int.h) is a path + method of the spec, and
     every path + method of the spec is a route ("GET /dashboard/" is a prefix route: it covers
     /dashboard/, /dashboard/{file} and /dashboard);
   - the Allow header http.c sends with a 405 names exactly the methods the spec lists for the
     route's path;
   - the scope auth.c asks of each route is the operation's x-klok-scope (and a route without a
     scope has `security: []`, one with a scope the bearerAuth scheme);
   - every HTTP status the handlers answer with is a response of the spec, and back;
   - every "error" code the code puts in an error body is in the spec's Error enum, and back;
3. every setting of klok-api (producer-api/main.c's table and the common ones of
   libsched/include/sched/config.h) has a row with the same default in docs/API.md's settings
   table, and that table names no other key.

Usage: /usr/bin/python3 tests/openapi_check.py [--spec FILE] [--doc FILE]
(--spec / --doc check another file in place of the repository's: to see the check fail.)
Exit 0 when all is well; 1 with one line per problem; 2 when the validator cannot be installed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALIDATOR, VERSION = "openapi-spec-validator", "0.9.0"
PYLIB = os.path.join(ROOT, ".klok-test", "pylib", "%s-%s" % (VALIDATOR, VERSION))
STAMP = os.path.join(PYLIB, ".klok-installed")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCOPES = {"SCHED_SCOPE_READ": "jobs:read", "SCHED_SCOPE_WRITE": "jobs:write",
          "SCHED_SCOPE_ADMIN": "admin"}


def say(msg):
    print("openapi_check: %s" % msg, flush=True)


def shown(path):
    """A path as the messages show it: relative to the repository when inside it."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def read(rel):
    """A file of the repository, C line continuations joined."""
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return re.sub(r"\\\n", " ", f.read())


# --- the validator -----------------------------------------------------------------------------

def install_validator():
    """Put the pinned validator into PYLIB unless it is there; then make it importable."""
    if not os.path.exists(STAMP):
        if subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode:
            say("%s has no pip: run scripts/deps (it installs python3-pip)" % sys.executable)
            sys.exit(2)
        say("installing %s==%s into %s" % (VALIDATOR, VERSION, os.path.relpath(PYLIB, ROOT)))
        tmp = "%s.tmp-%d" % (PYLIB, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PIP_NO_INPUT="1")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
                            "--target", tmp, "%s==%s" % (VALIDATOR, VERSION)],
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            shutil.rmtree(tmp, ignore_errors=True)
            say("pip install %s==%s failed:\n%s" % (VALIDATOR, VERSION, r.stdout.strip()))
            sys.exit(2)
        with open(os.path.join(tmp, os.path.basename(STAMP)), "w") as f:
            f.write("%s==%s\n" % (VALIDATOR, VERSION))
        shutil.rmtree(PYLIB, ignore_errors=True)  # a half-made one (no stamp)
        try:
            os.rename(tmp, PYLIB)
        except OSError:  # another run was quicker
            shutil.rmtree(tmp, ignore_errors=True)
    sys.path.insert(0, PYLIB)
    import openapi_spec_validator
    got = getattr(openapi_spec_validator, "__version__", "?")
    if got != VERSION:
        say("imported %s %s from %s, wanted %s" % (VALIDATOR, got,
                                                    openapi_spec_validator.__file__, VERSION))
        sys.exit(2)


def validate(spec_path, problems):
    """Validate the file against the OpenAPI specification; return it as a dict."""
    from jsonschema_path import SchemaPath
    from openapi_spec_validator.readers import read_from_filename
    from openapi_spec_validator.shortcuts import get_validator_cls
    try:
        spec, uri = read_from_filename(spec_path)
    except Exception as e:  # YAML syntax: nothing else can be checked
        problems.append("%s does not load: %s" % (spec_path, e))
        return None
    if not isinstance(spec, dict):
        problems.append("%s is not a YAML mapping" % spec_path)
        return None
    try:
        cls = get_validator_cls(spec)
        errors = list(cls(SchemaPath.from_dict(spec, base_uri=uri)).iter_errors())
    except Exception as e:
        problems.append("%s cannot be validated: %s: %s"
                        % (spec_path, type(e).__name__, str(e).splitlines()[0][:400]))
        return spec
    for e in errors:
        where = "/".join(str(p) for p in getattr(e, "path", ()) or ())
        msg = e.message if len(e.message) <= 400 else e.message[:400] + " ..."
        problems.append("not valid OpenAPI %s%s: %s"
                        % (spec.get("openapi"), " at " + where if where else "", msg))
    say("%s: OpenAPI %s, %s, %d error(s)" % (shown(spec_path),
                                             spec.get("openapi"), cls.__name__, len(errors)))
    return spec


# --- what the code says ------------------------------------------------------------------------

def c_function(src, name):
    """The text of a C function definition, from its name to the closing brace at column 0."""
    m = re.search(r"^[^\n;]*\b%s\([^;{]*\)\s*\{(.*?)^\}" % re.escape(name), src, re.M | re.S)
    if not m:
        raise SystemExit("openapi_check: cannot find %s() in the code" % name)
    return m.group(1)


def code_routes():
    """{enum name: (METHOD, path)} from API_ROUTE_MAP, without "other"."""
    m = re.search(r"#define API_ROUTE_MAP\(X\)(.*?)\n\n", read("producer-api/api_int.h"), re.S)
    routes = {}
    for name, desc in re.findall(r'X\((\w+),\s*"([^"]+)"\)', m.group(1) if m else ""):
        if desc == "other":
            continue
        method, _, path = desc.partition(" ")
        routes[name] = (method.upper(), path)
    if not routes:
        raise SystemExit("openapi_check: no routes found in API_ROUTE_MAP of api_int.h")
    return routes


def cases_to_values(body, value_re):
    """{enum name: value} from a switch: `case API_ROUTE_X:` lines, then the value assigned or
    returned (value_re, one group) applies to the cases gathered since the last one."""
    out, pending = {}, []
    for line in body.splitlines():
        m = re.search(r"case API_ROUTE_(\w+):", line)
        if m:
            pending.append(m.group(1))
            continue
        m = re.search(value_re, line)
        if m and pending:
            for name in pending:
                out[name] = m.group(1)
            pending = []
    return out


def code_allow():
    """{enum name: set of methods} of the Allow header api_reply() sends with a 405."""
    body = c_function(read("producer-api/http.c"), "api_reply")
    m = re.search(r"if \(code == 405\) \{(.*?)MHD_add_response_header\(resp, MHD_HTTP_HEADER_ALLOW",
                  body, re.S)
    if not m:
        raise SystemExit("openapi_check: cannot find the 405 Allow switch in http.c")
    default = re.search(r'const char \*allow = "([^"]+)"', m.group(1)).group(1)
    named = cases_to_values(m.group(1), r'allow = "([^"]+)"')
    split = lambda s: {x.strip().upper() for x in s.split(",")}
    return {name: split(v) for name, v in named.items()}, split(default)


def code_scopes():
    """{enum name: scope name} of route_scope() in auth.c; routes not named need none."""
    body = c_function(read("producer-api/auth.c"), "route_scope")
    return {name: SCOPES[v] for name, v in
            cases_to_values(body, r"return (SCHED_SCOPE_\w+);").items()}


def code_statuses_and_errors():
    """HTTP statuses the handlers answer with, and the "error" codes of their bodies."""
    statuses, errors = set(), set()
    for fn in sorted(os.listdir(os.path.join(ROOT, "producer-api"))):
        if not fn.endswith(".c"):
            continue
        src = read("producer-api/" + fn)
        for code, err in re.findall(r'api_reply_error\(\s*\w+,\s*(\d{3}),\s*"(\w+)"', src):
            statuses.add(int(code))
            errors.add(err)
        statuses.update(int(c) for c in re.findall(r"\bapi_reply\(\s*\w+,\s*(\d{3}),", src))
        statuses.update(int(c) for c in re.findall(r"success_code = (\d{3});", src))
        errors.update(re.findall(r'\\"error\\":\\"(\w+)\\"', src))  # a literal error body
        # The body parser's codes go out as they are (jobs.c: jerr.error).
        if "jerr.error" in src:
            errors.update(re.findall(r'fail\(\s*jerr,\s*SCHED_ERR_\w+,\s*"(\w+)"',
                                     read("libsched/src/job_json.c")))
    return statuses, errors


def code_settings():
    """{key: default} of klok-api's settings."""
    main = read("producer-api/main.c")
    keys = dict(re.findall(r'\{\s*"([a-z][a-z0-9._]*)",\s*SCHED_CONF_\w+,\s*\w+\(\w+\),\s*"([^"]*)"',
                           main))
    if "SCHED_CONF_COMMON(" in main:
        keys.update(re.findall(r'SCHED_CONF_COMMON_STR\(\s*type,\s*\w+,\s*"([^"]+)",\s*"([^"]*)"',
                               read("libsched/include/sched/config.h")))
    if "SCHED_CONF_ADMIN(" in main:  # not klok-api's today; checked should it come
        keys.update(re.findall(r'SCHED_CONF_FIELD\(\s*type,\s*"(admin\.\w+)",\s*\w+,\s*[\w.]+,\s*'
                               r'"([^"]*)"', read("libsched/include/sched/config.h")))
    if not keys:
        raise SystemExit("openapi_check: no settings found in producer-api/main.c")
    return keys


# --- the checks --------------------------------------------------------------------------------

def spec_operations(spec):
    """{(METHOD, path): operation}"""
    ops = {}
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and method in item:
                ops[(method.upper(), path)] = item[method]
    return ops


def covers(route_path, spec_path):
    """Whether a route of the map serves a spec path: the same, or for a prefix route ("/x/")
    one path parameter after it ("/x/{file}") or the prefix without its slash ("/x")."""
    if route_path == spec_path:
        return True
    if not route_path.endswith("/"):
        return False
    return spec_path == route_path[:-1] or (
        spec_path.startswith(route_path) and
        re.fullmatch(r"\{[^/{}]+\}", spec_path[len(route_path):]) is not None)


def check_routes(spec, problems):
    routes, ops = code_routes(), spec_operations(spec)
    allow, allow_default = code_allow()
    scopes = code_scopes()
    for name, (method, path) in sorted(routes.items()):
        served = [p for (m, p) in ops if m == method and covers(path, p)]
        if (method, path) not in ops:
            problems.append('route "%s %s" (API_ROUTE_%s) is not in the spec' % (method, path, name))
        want_allow = allow.get(name, allow_default)
        for p in served or [path]:
            have = {m for (m, q) in ops if q == p}
            if have and have != want_allow:
                problems.append("%s: the spec lists %s, a 405 says Allow: %s (http.c, API_ROUTE_%s)"
                                % (p, ", ".join(sorted(have)), ", ".join(sorted(want_allow)),
                                   name))
            op = ops.get((method, p))
            if op is None:
                continue
            scope, security = op.get("x-klok-scope"), op.get("security", spec.get("security"))
            if scope != scopes.get(name):
                problems.append("%s %s: x-klok-scope is %r, auth.c asks %r"
                                % (method, p, scope, scopes.get(name)))
            if name in scopes and security != [{"bearerAuth": []}]:
                problems.append("%s %s: needs a token (auth.c) but security is %r"
                                % (method, p, security))
            if name not in scopes and security != []:
                problems.append("%s %s: needs no token (auth.c) but security is %r"
                                % (method, p, security))
    for (method, path) in sorted(ops, key=lambda k: (k[1], k[0])):
        if not any(m == method and covers(p, path) for (m, p) in routes.values()):
            problems.append("the spec has %s %s, API_ROUTE_MAP has no such route" % (method, path))
    say("%d routes in API_ROUTE_MAP, %d operations in the spec" % (len(routes), len(ops)))


def check_responses(spec, problems):
    statuses, errors = code_statuses_and_errors()
    in_spec = set()
    for op in spec_operations(spec).values():
        in_spec.update(int(c) for c in (op.get("responses") or {}) if str(c).isdigit())
    components = (spec.get("components") or {}).get("responses") or {}
    if "MethodNotAllowed" in components:
        in_spec.add(405)
    for code in sorted(statuses - in_spec):
        problems.append("the code answers %d; no operation of the spec has it" % code)
    for code in sorted(in_spec - statuses):
        problems.append("the spec has responses %d; the code never answers it" % code)
    enum = set((((spec.get("components") or {}).get("schemas") or {}).get("Error") or {})
               .get("properties", {}).get("error", {}).get("enum") or [])
    for err in sorted(errors - enum):
        problems.append('error code "%s" of the code is not in the spec\'s Error enum' % err)
    for err in sorted(enum - errors):
        problems.append('error code "%s" of the spec\'s Error enum is not in the code' % err)
    say("%d HTTP statuses, %d error codes" % (len(statuses), len(errors)))


def doc_settings(doc_path):
    """{key: default} of the settings table of API.md (the table whose header is
    | key | default | meaning |); "(empty)" stands for the empty string."""
    with open(doc_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    rows, in_table = {}, False
    for line in lines:
        if re.match(r"\|\s*key\s*\|\s*default\s*\|", line):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set(cells[0]) <= set("- :"):
                continue
            key = re.fullmatch(r"`([^`]+)`", cells[0])
            default = cells[1] if len(cells) > 1 else ""
            value = re.fullmatch(r"`([^`]*)`", default)
            rows[key.group(1) if key else cells[0]] = \
                "" if default == "(empty)" else (value.group(1) if value else default)
    return rows


def check_settings(doc_path, problems):
    code, doc = code_settings(), doc_settings(doc_path)
    rel = shown(doc_path)
    if not doc:
        problems.append("%s has no settings table (| key | default | meaning |)" % rel)
        return
    for key, default in sorted(code.items()):
        if key not in doc:
            problems.append("setting %s (default %r) is not in %s's settings table"
                            % (key, default, rel))
        elif doc[key] != default:
            problems.append("setting %s: %s says default %r, the code %r"
                            % (key, rel, doc[key], default))
    for key in sorted(set(doc) - set(code)):
        problems.append("%s's settings table has %s; klok-api has no such setting" % (rel, key))
    say("%d settings" % len(code))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=os.path.join(ROOT, "producer-api", "openapi.yaml"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "API.md"))
    args = ap.parse_args()
    install_validator()
    problems = []
    spec = validate(os.path.abspath(args.spec), problems)
    if spec is not None:
        check_routes(spec, problems)
        check_responses(spec, problems)
    check_settings(os.path.abspath(args.doc), problems)
    for p in problems:
        say("PROBLEM: " + p)
    if problems:
        say("%d problem(s)" % len(problems))
        return 1
    say("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
