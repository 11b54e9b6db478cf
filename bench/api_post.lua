-- bench/api_post.lua — wrk script of bench/api for durable creates: every request is
-- POST /v1/jobs with the same JSON body and no Idempotency-Key, so each one creates a distinct
-- job (its id is a fresh UUIDv7) and is answered 201 only after Kafka acknowledged the command
-- (acks=all).  Any other status is counted (api_get.lua's response/done, loaded below).
--
--   wrk ... -H "Authorization: Bearer <token>" -s bench/api_post.lua URL/v1/jobs -- [201]
--
-- The job is due in a day (nothing fires during the run; no timer runs anyway).

wrk.method = "POST"
wrk.body = '{"name":"b","task":"noop","schedule":{"type":"delay","delay_ms":86400000}}'
wrk.headers["Content-Type"] = "application/json"
default_expected = 201

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "api_get.lua")
