#!/usr/bin/python3
"""Cron oracle for tests/unit/test-cron.c, built on Debian's python3-croniter
(1.3.5) and the standard zoneinfo module (Debian's tzdata).

Run with Debian's interpreter (/usr/bin/python3): the pyenv python3 on PATH
does not see python3-croniter.

    /usr/bin/python3 cron_oracle.py [--seed N] [--count N]  > cases

It draws random valid klok expressions (seeded: the same arguments always
give the same cases) and random start instants in five zones, and prints one
case per line, fields separated by '|' (expressions may hold tabs):

    <klok expression>|<zone>|<start ms>|<fire ms>,<fire ms>,...[,none]

where the fire instants are the next ones strictly after the start, each
computed from the previous, as croniter answers them; a trailing "none" means
croniter found no further fire within 400 years.  Statistics go to stderr.

What is and is not asked of croniter, and why
---------------------------------------------
klok's syntax differs from croniter's in three documented ways, which this
script translates rather than avoids:
  - six fields: klok puts the seconds FIRST, croniter LAST;
  - '?' (klok: '*' in the day fields) is unknown to croniter: sent as '*';
  - the day rule: klok follows crontab(5) -- OR when neither day field
    starts with '*' or '?', AND otherwise.  croniter decides by the expanded
    set instead (dom '*/2' counts as restricted, '1-31' as not).  The script
    passes croniter's own day_or switch accordingly: day_or=False for AND;
    for OR it keeps day_or=True, except that when croniter expands one day
    field to "every day" the OR is every day, so both fields are sent as '*'.
And it avoids one croniter bug: with six fields croniter does not fold
weekday 7 into Sunday, so six-field expressions never draw a weekday set
holding 7 without 0.

croniter 1.3.5 is wrong around DST changes (DESIGN.md section 9), and worse:
with a zone-aware start it shifts a result by the DST difference whenever
the result's UTC offset differs from the start's, even months away from any
change (Europe/Berlin "0 12 1 6 *" from January answers 11:00 local).  So
each fire is taken from a FRESH croniter started at the previous fire, and
accepted in one of two ways only:
  A. croniter with the zone-aware start, when no offset change of the zone
     lies within a day of the interval from the start to the answer;
  B. otherwise croniter on the naive local wall clock, its answer turned
     into an instant with zoneinfo -- accepted only when neither the start's
     wall time nor any wall time the schedule matches lies inside a wall
     interval that a transition near the interval skips or repeats (checked
     by asking croniter itself for the first match from the start of each
     such interval).  Away from skipped and repeated wall times, "the first
     matching wall time after the start's, converted" is the right answer
     under any DST policy; at them the policy decides, and those cases are
     written by hand in test-cron.c.
A case stops at the first fire neither way accepts (a case with no accepted
fire is dropped).

croniter 1.3.5 has calendar bugs of its own too: it can step the day of
month past the end of a short month ("16-51 9/11 */6 * *" from Feb 28 answers
Mar 7, not Mar 1), and an OR of the day fields raises when either side alone
never fires.  The second is worked around in croniter_next().  For the
first, every answer is checked with croniter's own expansion of the
expression (class Matcher): the answer's wall time must match, no wall time
strictly between the start's and the answer's may match, and when both ways
apply they must agree.  A case failing a check is dropped and reported on
stderr with the reason; the check never supplies an answer itself.
"""
import argparse
import bisect
import random
import sys
from datetime import datetime, timedelta, timezone

from croniter import croniter, CroniterBadDateError
from zoneinfo import ZoneInfo

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kathmandu"]
FIRES = 5
DAY = 86400
START_LO = int(datetime(2010, 1, 1, tzinfo=timezone.utc).timestamp())
START_HI = int(datetime(2040, 1, 1, tzinfo=timezone.utc).timestamp())
# Transitions are listed up to here; a DST zone's fire past it is not used.
SCAN_LO = datetime(2008, 1, 1, tzinfo=timezone.utc)
SCAN_HI = datetime(2200, 1, 1, tzinfo=timezone.utc)
SEARCH_YEARS = 400  # as klok

# klok fields: name, min, max, names (value of first name = min)
SEC, MIN, HOUR, DOM, MON, DOW = range(6)
FIELDS = [
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("dom", 1, 31, None),
    ("month", 1, 12, ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                      "AUG", "SEP", "OCT", "NOV", "DEC"]),
    ("dow", 0, 7, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]),
]
# Chance that a field is a bare '*'.
P_STAR = [0.15, 0.25, 0.35, 0.5, 0.6, 0.5]
MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily",
          "@midnight", "@hourly"]


# --- Expressions -------------------------------------------------------------

def render(rng, field, v):
    """A value as a number, or (month, dow) sometimes as a name in any case."""
    names = FIELDS[field][3]
    lo = FIELDS[field][1]
    if names and v - lo < len(names) and rng.random() < 0.35:
        name = names[v - lo]
        return rng.choice([name, name.lower(), name.capitalize()])
    return str(v)


def gen_item(rng, field):
    """One list item; returns (text, set of values it covers)."""
    _, lo, hi, _ = FIELDS[field]
    form = rng.choice(["value", "value", "range", "starstep", "rangestep",
                       "valstep"])
    if form == "value":
        v = rng.randint(lo, hi)
        return render(rng, field, v), {v}
    if form == "starstep":
        n = rng.randint(1, max(2, (hi - lo) // 2))
        return "*/%d" % n, set(range(lo, hi + 1, n))
    a = rng.randint(lo, hi)
    if form == "valstep":
        n = rng.randint(1, max(2, (hi - lo) // 2))
        return "%s/%d" % (render(rng, field, a), n), set(range(a, hi + 1, n))
    b = rng.randint(a, hi)
    if field == DOW and b == 7 and a > 0 and rng.random() < 0.5:
        b_text = render(rng, field, 0)  # FRI-SUN, 5-0
    else:
        b_text = render(rng, field, b)
    text = "%s-%s" % (render(rng, field, a), b_text)
    if form == "rangestep":
        n = rng.randint(1, max(2, (b - a) // 2 + 1))
        return "%s/%d" % (text, n), set(range(a, b + 1, n))
    return text, set(range(a, b + 1))


def gen_field(rng, field, six):
    r = rng.random()
    if r < P_STAR[field]:
        return "*"
    if field in (DOM, DOW) and r < P_STAR[field] + 0.05:
        return "?"
    while True:
        items = [gen_item(rng, field) for _ in range(
            1 if rng.random() < 0.6 else rng.randint(2, 3))]
        values = set().union(*(s for _, s in items))
        # croniter bug with six fields: weekday 7 is not folded into 0.
        if six and field == DOW and 7 in values and 0 not in values:
            continue
        return ",".join(t for t, _ in items)


def gen_expr(rng):
    r = rng.random()
    if r < 0.03:
        m = rng.choice(MACROS)
        return rng.choice([m, m.upper()])
    six = r < 0.25
    fields = [gen_field(rng, f, six) for f in range(0 if six else 1, 6)]
    sep = [" "] * (len(fields) - 1)
    if rng.random() < 0.05:  # extra whitespace is allowed
        sep[rng.randrange(len(sep))] = rng.choice(["  ", "\t", " \t "])
    out = fields[0]
    for s, f in zip(sep, fields[1:]):
        out += s + f
    return out


def translate(expr):
    """klok expression -> (croniter expression, day_or)."""
    if expr.startswith("@"):
        return expr.lower(), True
    f = expr.split()
    if len(f) == 6:
        f = f[1:] + f[:1]  # seconds last
    dom, dow = f[2], f[4]
    dom_star, dow_star = dom[0] in "*?", dow[0] in "*?"
    f[2] = "*" if dom == "?" else dom
    f[4] = "*" if dow == "?" else dow
    cr = " ".join(f)
    if dom_star or dow_star:
        return cr, False
    expanded, _ = croniter.expand(cr)
    if expanded[2] == ["*"] or expanded[4] == ["*"]:
        f[2] = f[4] = "*"
        return " ".join(f), True
    return cr, True


class Matcher:
    """croniter's own expansion of an expression, on the naive wall clock:
    does a wall time match, and is there a match strictly between two wall
    times?  Used only to check croniter's answers, never to make one."""

    def __init__(self, cr, day_or):
        expanded, _ = croniter.expand(cr)
        sets = [None if e == ["*"] else set(e) for e in expanded]
        if len(sets) == 5:
            sets.append({0})
        if sets[4] is not None:
            sets[4] = {0 if v == 7 else v for v in sets[4]}
        self.sets = sets
        self.day_or = day_or and sets[2] is not None and sets[4] is not None

        def each(i, n):
            return range(n) if sets[i] is None else sorted(sets[i])
        # Matching times of day, in seconds, sorted.
        self.times = [h * 3600 + m * 60 + sec for h in each(1, 24)
                      for m in each(0, 60) for sec in each(5, 60)]

    def _has(self, i, v):
        return self.sets[i] is None or v in self.sets[i]

    def day_ok(self, d):
        if not self._has(3, d.month):
            return False
        dom_ok, dow_ok = self._has(2, d.day), self._has(4, d.isoweekday() % 7)
        return dom_ok or dow_ok if self.day_or else dom_ok and dow_ok

    def ok(self, dt):
        sod = dt.hour * 3600 + dt.minute * 60 + dt.second
        i = bisect.bisect_left(self.times, sod)
        return (self.day_ok(dt.date()) and i < len(self.times)
                and self.times[i] == sod)

    def any_between(self, lo, hi):
        """A matching wall time w with lo < w < hi (naive datetimes)?"""
        d, last = lo.date(), hi.date()
        while d <= last:
            if self.day_ok(d):
                a = (lo.hour * 3600 + lo.minute * 60 + lo.second
                     if d == lo.date() else -1)
                b = (hi.hour * 3600 + hi.minute * 60 + hi.second
                     if d == last else 86400)
                i = bisect.bisect_right(self.times, a)
                if i < len(self.times) and self.times[i] < b:
                    return True
            d += timedelta(days=1)
        return False


# --- Zones -------------------------------------------------------------------

class Zone:
    """Transitions of a zone between SCAN_LO and SCAN_HI, from zoneinfo."""

    def __init__(self, name):
        self.name = name
        self.tz = ZoneInfo(name)
        self.trans = []  # (instant s, offset before s, offset after s)
        t = int(SCAN_LO.timestamp())
        end = int(SCAN_HI.timestamp())
        prev = self.off(t)
        while t < end:
            nxt = t + DAY
            o = self.off(nxt)
            if o != prev:
                lo, hi = t, nxt  # off(lo) == prev, off(hi) == o
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self.off(mid) == prev:
                        lo = mid
                    else:
                        hi = mid
                self.trans.append((hi, prev, o))
                prev = o
            t = nxt
        self.instants = [tr[0] for tr in self.trans]

    def off(self, t):
        return int(datetime.fromtimestamp(t, self.tz).utcoffset()
                   .total_seconds())

    def near(self, lo_s, hi_s):
        """Transitions with instant in [lo_s, hi_s]."""
        i = bisect.bisect_left(self.instants, lo_s)
        j = bisect.bisect_right(self.instants, hi_s)
        return self.trans[i:j]

    def scanned(self, t):
        return not self.trans or t < SCAN_HI.timestamp()


def naive_wall(zone, t):
    """Naive local datetime of instant t (seconds, float)."""
    return datetime.fromtimestamp(t, zone.tz).replace(tzinfo=None)


def wall_region(tr):
    """Naive wall interval [w0, w1) a transition skips or repeats."""
    t, before, after = tr
    base = datetime(1970, 1, 1)
    a = base + timedelta(seconds=t + before)
    b = base + timedelta(seconds=t + after)
    return (a, b) if a < b else (b, a)


# --- One case ----------------------------------------------------------------

# Why a case is dropped: croniter contradicted itself or its own expansion.
CRONITER_ERRORS = {
    "bad": "croniter answer does not match the expression",
    "early": "croniter skipped an earlier match",
    "disagree": "croniter aware/naive answers disagree",
}


class Stats:
    def __init__(self):
        self.cases = self.fires_a = self.fires_b = 0
        self.truncated = self.dropped_empty = 0
        self.errors = {k: 0 for k in CRONITER_ERRORS}


def croniter_next(cr, day_or, start, ret_type):
    """croniter's next fire after start.  croniter 1.3.5 computes an OR of
    the day fields as the earlier of two searches (dom alone, dow alone) but
    gives up on both when either finds nothing (e.g. "0 0 31 2 MON" raises
    although every Monday matches): then ask croniter for each search
    itself and take the earlier answer."""
    try:
        return croniter(cr, start, day_or=day_or,
                        max_years_between_matches=SEARCH_YEARS
                        ).get_next(ret_type)
    except CroniterBadDateError:
        f = cr.split()
        if not day_or or f[2] == "*" or f[4] == "*":
            raise
    found = []
    for dom, dow in ((f[2], "*"), ("*", f[4])):
        g = f[:2] + [dom, f[3], dow] + f[5:]
        try:
            found.append(croniter(" ".join(g), start, day_or=False,
                                  max_years_between_matches=SEARCH_YEARS
                                  ).get_next(ret_type))
        except CroniterBadDateError:
            pass
    if not found:
        raise CroniterBadDateError("no fire in either day search")
    return min(found)


def next_aware(cr, day_or, zone, cur_ms):
    start = datetime.fromtimestamp(cur_ms / 1000, zone.tz)
    return int(croniter_next(cr, day_or, start, float))


def next_naive(cr, day_or, wall):
    return croniter_next(cr, day_or, wall, datetime)


def to_instant(zone, wall):
    return int(wall.replace(tzinfo=zone.tz).timestamp())


def step(cr, day_or, zone, cur_ms, m):
    """Next fire after cur_ms: ("fire", s, way) | ("none",) | ("stop",) |
    ("bad",)."""
    cur = cur_ms / 1000
    try:
        a = next_aware(cr, day_or, zone, cur_ms)
    except CroniterBadDateError:
        a = None
    # Way A: no transition anywhere near.
    if a is not None and zone.scanned(a) and not zone.near(cur - DAY, a + DAY):
        wall_a = naive_wall(zone, a)
        if not m.ok(wall_a):
            return ("bad",)
        if m.any_between(naive_wall(zone, cur).replace(microsecond=0),
                         wall_a):
            return ("early",)
        # The naive wall clock must say the same here.
        try:
            b = to_instant(zone, next_naive(cr, day_or, naive_wall(zone, cur)))
        except CroniterBadDateError:
            b = None
        if b != a:
            return ("disagree",)
        return ("fire", a, "A")
    # Way B: naive wall clock, if no skipped/repeated wall time matters.
    try:
        w = next_naive(cr, day_or, naive_wall(zone, cur))
    except CroniterBadDateError:
        # No matching wall time at all: no fire, whatever the zone does.
        return ("none",) if a is None else ("disagree",)
    b = to_instant(zone, w)
    if not zone.scanned(b):
        return ("stop",)
    start_wall = naive_wall(zone, cur)
    for tr in zone.near(cur - DAY, b + DAY):
        w0, w1 = wall_region(tr)
        if w0 <= start_wall < w1:
            return ("stop",)
        try:
            first = next_naive(cr, day_or, w0 - timedelta(seconds=1))
        except CroniterBadDateError:
            continue
        if first < w1:
            return ("stop",)
    if not m.ok(w):
        return ("bad",)
    if m.any_between(start_wall.replace(microsecond=0), w):
        return ("early",)
    return ("fire", b, "B")


def run_case(expr, zone, start_ms, st):
    cr, day_or = translate(expr)
    m = Matcher(cr, day_or)
    fires, cur, tail = [], start_ms, ""
    for _ in range(FIRES):
        r = step(cr, day_or, zone, cur, m)
        if r[0] == "fire":
            fires.append(r[1] * 1000)
            cur = r[1] * 1000
            if r[2] == "A":
                st.fires_a += 1
            else:
                st.fires_b += 1
            continue
        if r[0] == "none":
            tail = "none"
        elif r[0] == "stop":
            st.truncated += 1
        else:
            st.errors[r[0]] += 1
            print("oracle: dropped, %s: %r %s %d"
                  % (CRONITER_ERRORS[r[0]], expr, zone.name, cur),
                  file=sys.stderr)
            return None
        break
    if not fires and not tail:
        st.dropped_empty += 1
        return None
    return ",".join([str(f) for f in fires] + ([tail] if tail else []))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20260329)
    ap.add_argument("--count", type=int, default=6000,
                    help="cases to print")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    zones = [Zone(z) for z in ZONES]
    st = Stats()
    # A few schedules that never fire, and rare ones, always included.
    fixed = ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 31 2 ?",
             "0 0 29 2 *", "0 0 29 2 */7", "30 2 29 FEB ?"]
    out = sys.stdout
    attempts = 0
    while st.cases < args.count:
        attempts += 1
        if attempts > args.count * 5:
            sys.exit("oracle: too many dropped cases")
        if attempts <= len(fixed) * len(zones):
            i = attempts - 1
            expr, zone = fixed[i // len(zones)], zones[i % len(zones)]
        else:
            expr, zone = gen_expr(rng), rng.choice(zones)
        start = rng.randint(START_LO, START_HI)
        r = rng.random()
        if r < 0.2:
            start -= start % 60  # on a whole minute
            start_ms = start * 1000
        elif r < 0.3:
            start_ms = start * 1000  # on a whole second
        else:
            start_ms = start * 1000 + rng.randrange(1000)
        line = run_case(expr, zone, start_ms, st)
        if line is None:
            continue
        st.cases += 1
        out.write("%s|%s|%d|%s\n" % (expr, zone.name, start_ms, line))
    print("oracle: %d cases, %d fires (%d zone-aware croniter, %d wall-clock "
          "croniter + zoneinfo), %d cases cut short near a DST change, "
          "%d dropped with no fire; dropped as croniter errors: %s"
          % (st.cases, st.fires_a + st.fires_b, st.fires_a, st.fires_b,
             st.truncated, st.dropped_empty,
             ", ".join("%d %s" % (n, k) for k, n in st.errors.items())),
          file=sys.stderr)

if __name__ == "__main__":
    main()
