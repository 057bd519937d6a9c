-- Reads an account's quota state without charging (window.lua is prepended).
--   KEYS[1] account hash   KEYS[2] usage hash
--   ARGV[1] now, unix seconds
-- Returns {found, window_start, window_end, used}.
local now = tonumber(ARGV[1])
local account = redis.call("HMGET", KEYS[1], "tier", "anchor_day", "anchor_second")
if not account[1] then return {0, 0, 0, 0} end
local window_start, window_end = monthly_window(now, tonumber(account[2] or 1), tonumber(account[3] or 0))
local usage = redis.call("HMGET", KEYS[2], "window_start", "used")
local used = 0
if tonumber(usage[1]) == window_start then used = tonumber(usage[2]) or 0 end
return {1, window_start, window_end, used}
