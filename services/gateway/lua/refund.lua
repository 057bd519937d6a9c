-- Undoes one charge of meter.lua: a charge whose reply reached the gateway
-- after the gateway had returned 503 REDIS_UNAVAILABLE, or the charge of a
-- call that Envoy could not deliver to any service replica.
--
-- All keys belong to one account and share its hash tag, as in meter.lua.
--   KEYS[1] usage hash       KEYS[2] burst hash
--   KEYS[3] idempotency record of the charge (any key when ARGV[6] is "")
--   KEYS[4] check record of the charge (any key when ARGV[7] is "")
--   KEYS[5] refund marker of the charge
--   ARGV[1] cost of the charge in calls
--   ARGV[2] window start of the charge, unix seconds
--   ARGV[3] window end of the charge, unix seconds
--   ARGV[4] now, unix milliseconds, on the clock of meter.lua's ARGV[1]
--   ARGV[5] the second of the charge (meter.lua's now), unix seconds
--   ARGV[6] the idempotency record that the charge wrote ("fingerprint#0"),
--           "" when it wrote none
--   ARGV[7] the check record that the charge wrote, "" when it wrote none:
--           "charge_id cost window_start window_end second idempotency_key"
--           as meter.lua writes it
--   ARGV[8] refund marker lifetime, milliseconds
--   ARGV[9] deadline in Redis's clock, unix milliseconds, "" for none: a
--           script that runs later (Redis was frozen or slow, and the
--           gateway has stopped waiting for this attempt) changes nothing
--
-- Returns one of:
--   REFUNDED           the quota and burst units are back, and the records
--                      that the charge wrote are deleted
--   ALREADY_REFUNDED   the marker exists, so an earlier run refunded this
--                      charge; nothing changes
--   DEADLINE_EXCEEDED  Redis ran the script after ARGV[9]; nothing changes
--   CHARGE_MISMATCH    the check record stores another charge id, cost,
--                      window, second or idempotency record than ARGV, so
--                      the request is not this charge; nothing changes
--   WINDOW_ENDED       the charge's quota window is over or was replaced by
--                      a newer one; nothing changes
--   USED_SINCE         a replay of the Idempotency-Key or Envoy's repeat of
--                      the Check was admitted after the charge (or the record
--                      is gone), so the call may have reached the service and
--                      the charge is kept; nothing changes
--
-- The key's last_used time is left as it is, because the key was presented.

if ARGV[9] ~= "" then
  local clock = redis.call("TIME")
  local redis_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  if redis_ms > tonumber(ARGV[9]) then return "DEADLINE_EXCEEDED" end
end

if redis.call("EXISTS", KEYS[5]) == 1 then return "ALREADY_REFUNDED" end

-- The check record contains everything that the charge took, so a request
-- with any other value refunds nothing. meter.lua marks the record
-- "retried" on Envoy's repeat of the Check, which USED_SINCE covers below.
local check = false
if ARGV[7] ~= "" then
  check = redis.call("GET", KEYS[4])
  if check and check ~= "retried" and check ~= ARGV[7] then return "CHARGE_MISMATCH" end
end

local cost = tonumber(ARGV[1])
local usage = redis.call("HMGET", KEYS[1], "window_start", "used")
if tonumber(usage[1]) ~= tonumber(ARGV[2]) or tonumber(ARGV[4]) >= tonumber(ARGV[3]) * 1000 then
  return "WINDOW_ENDED"
end

-- meter.lua rewrites the idempotency record as "fingerprint#n" on each free
-- replay, and marks the check record "retried" on Envoy's repeat.
if ARGV[6] ~= "" and redis.call("GET", KEYS[3]) ~= ARGV[6] then return "USED_SINCE" end
if ARGV[7] ~= "" and check ~= ARGV[7] then return "USED_SINCE" end

local used = tonumber(usage[2]) or 0
redis.call("HSET", KEYS[1], "used", math.max(used - cost, 0))

-- meter.lua took one burst unit in the second of the charge; the hash keeps
-- its two-second lifetime.
local burst = redis.call("HMGET", KEYS[2], "second", "count")
if tonumber(burst[1]) == tonumber(ARGV[5]) and (tonumber(burst[2]) or 0) > 0 then
  redis.call("HINCRBY", KEYS[2], "count", -1)
end

if ARGV[6] ~= "" then redis.call("DEL", KEYS[3]) end
if ARGV[7] ~= "" then redis.call("DEL", KEYS[4]) end
redis.call("SET", KEYS[5], "1", "PX", tonumber(ARGV[8]))
return "REFUNDED"
