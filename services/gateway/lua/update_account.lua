-- Applies a change to an account unless a newer change already applied.
--   KEYS[1] account hash
--   ARGV[1] now, unix seconds
--   ARGV[2] source event time in unix seconds, "" for an operator's change
--   ARGV[3..] field, value pairs to set
-- A billing change older than the account's version is ignored; an
-- operator's change applies at once and lasts until a newer billing event.
-- Returns {found, applied, version}.
if redis.call("EXISTS", KEYS[1]) == 0 then return {0, 0, 0} end
local version = tonumber(redis.call("HGET", KEYS[1], "version") or "0")
local now = tonumber(ARGV[1])
local new_version
if ARGV[2] ~= "" then
  local event_time = tonumber(ARGV[2])
  if event_time < version then return {1, 0, version} end
  new_version = event_time
else
  new_version = math.max(version, now)
end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call("HSET", KEYS[1], unpack(fields)) end
redis.call("HSET", KEYS[1], "version", new_version)
return {1, 1, new_version}
