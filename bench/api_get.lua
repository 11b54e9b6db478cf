-- bench/api_get.lua — wrk script of bench/api for GETs (GET /v1/jobs/{id} and the /healthz
-- reference, so both runs pay the same client-side cost): counts the responses whose status is
-- not the expected one and prints one summary line for bench/api to read.
--
--   wrk ... -s bench/api_get.lua URL -- [EXPECTED_STATUS]     (default 200)
--
-- bench/api_post.lua loads this file after setting up its POST; its expected status is 201.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    expected = tonumber(args[1]) or default_expected or 200
    unexpected = 0
    statuses = {} -- status -> count, unexpected ones only
end

function response(status, headers, body)
    if status ~= expected then
        unexpected = unexpected + 1
        statuses[status] = (statuses[status] or 0) + 1
    end
end

-- "klok-wrk: requests N unexpected M statuses 503x12,429x3 p999_us X max_us Y"
function done(summary, latency, requests)
    local bad, by, parts = 0, {}, {}
    for _, t in ipairs(threads) do
        bad = bad + t:get("unexpected")
        for code, n in pairs(t:get("statuses")) do
            by[code] = (by[code] or 0) + n
        end
    end
    for code, n in pairs(by) do
        parts[#parts + 1] = code .. "x" .. n
    end
    table.sort(parts)
    io.write(string.format("klok-wrk: requests %d unexpected %d statuses %s p999_us %d max_us %d\n",
        summary.requests, bad, #parts > 0 and table.concat(parts, ",") or "-",
        latency:percentile(99.9), latency.max))
end
