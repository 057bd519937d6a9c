-- Strict JSON check for REST request bodies. Envoy's Lua filter runs it on
-- the public listener before grpc_json_transcoder (LuaJIT, Lua 5.1 syntax).
--
-- The transcoder's JSON parser is lenient: it accepts single-quoted strings,
-- and when one field is sent twice, the last copy wins, also when the two
-- copies use the field's two names (`journal_text` and `journalText`). A body
-- could then mean one thing to a reader of the JSON and another to the
-- service. This script lets a body through only when one reading is possible:
--
--   * Content-Type is application/json (any case; parameters allowed, and a
--     charset parameter must be utf-8), else 415;
--   * the body is one JSON object as RFC 8259 defines it: double-quoted
--     strings, no comments, no trailing commas, no NaN or Infinity, valid
--     UTF-8 and no unpaired surrogate escape (I-JSON, RFC 7493), else 400;
--   * no object has a key twice, after escapes are decoded, nor two keys
--     that protobuf's JSON parser reads as one field, else 400;
--   * objects and arrays nest at most MAX_DEPTH levels, else 400.
--
-- It skips requests without a body and native gRPC calls (the transcoder's
-- own test: a POST whose Content-Type is application/grpc or starts with
-- application/grpc+). It runs on every other path, not only on the routes
-- in the descriptor, so no spelling of a path can reach the transcoder
-- unchecked. A rejected request to an unknown route therefore gets 400 or
-- 415 instead of 404. It also checks a body sent with GET, because the
-- transcoder reads one into the request message.
--
-- Work is linear in the body size. A body over max_body_bytes, which the
-- set_metadata filter before this one passes in, gets 413 unchecked.
--
-- NOTE: two keys that differ only as snake_case and lowerCamelCase
-- (`a_b`, `aB`) count as one field, because protobuf maps both to the same
-- field. That is wrong for the keys of a map<string, ...> or
-- google.protobuf.Struct field, and misses a field with a custom json_name.
-- No request message has either today.
-- NOTE: a google.api.HttpBody route (raw bytes of any Content-Type, such as
-- a webhook) would need this filter turned off with LuaPerRoute on a route
-- that matches its REST path.

local byte, char, find, format, gsub, sub, upper =
  string.byte, string.char, string.find, string.format, string.gsub, string.sub, string.upper
local concat, floor = table.concat, math.floor

-- Deep enough for every request message (orbit's is 4 levels), shallow
-- enough that a body of brackets cannot make thousands of Lua tables.
local MAX_DEPTH = 32
-- Maximum length in bytes of a key or header value that an error message repeats.
local MAX_ECHO_BYTES = 64
local DOMAIN = "api.defrag.app"

-- Byte values used by the scanner.
local QUOTE, BACKSLASH, SLASH, APOSTROPHE = 34, 92, 47, 39
local OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET = 123, 125, 91, 93
local COMMA, COLON, MINUS, PLUS, DOT, ZERO, NINE = 44, 58, 45, 43, 46, 48, 57

-- A rejected body: where, what rule it broke, and how to fix it.
local Violation = {}

local function reject(position, problem, fix)
  error(setmetatable({ position = position, problem = problem, fix = fix }, Violation), 0)
end

-- Escapes that RFC 8259 allows after a backslash, with the byte each stands for.
local SIMPLE_ESCAPES = {
  [QUOTE] = '"', [BACKSLASH] = "\\", [SLASH] = "/",
  [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t",
}

-- --- UTF-8 -------------------------------------------------------------------

-- Returns the index after the well-formed UTF-8 sequence that starts at
-- index k, or nil. Follows RFC 3629: no overlong forms, no surrogates,
-- nothing above U+10FFFF.
local function utf8_sequence_end(s, k)
  local lead = byte(s, k)
  local count, low, high
  if lead >= 0xC2 and lead <= 0xDF then
    count, low, high = 1, 0x80, 0xBF
  elseif lead == 0xE0 then
    count, low, high = 2, 0xA0, 0xBF
  elseif lead == 0xED then
    count, low, high = 2, 0x80, 0x9F
  elseif lead >= 0xE1 and lead <= 0xEF then
    count, low, high = 2, 0x80, 0xBF
  elseif lead == 0xF0 then
    count, low, high = 3, 0x90, 0xBF
  elseif lead >= 0xF1 and lead <= 0xF3 then
    count, low, high = 3, 0x80, 0xBF
  elseif lead == 0xF4 then
    count, low, high = 3, 0x80, 0x8F
  else
    return nil
  end

  local second = byte(s, k + 1)
  if not second or second < low or second > high then
    return nil
  end
  for offset = 2, count do
    local continuation = byte(s, k + offset)
    if not continuation or continuation < 0x80 or continuation > 0xBF then
      return nil
    end
  end
  return k + count + 1
end

local function utf8_encode(code_point)
  if code_point < 0x80 then
    return char(code_point)
  elseif code_point < 0x800 then
    return char(0xC0 + floor(code_point / 0x40), 0x80 + code_point % 0x40)
  elseif code_point < 0x10000 then
    return char(0xE0 + floor(code_point / 0x1000), 0x80 + floor(code_point / 0x40) % 0x40,
      0x80 + code_point % 0x40)
  end
  return char(0xF0 + floor(code_point / 0x40000), 0x80 + floor(code_point / 0x1000) % 0x40,
    0x80 + floor(code_point / 0x40) % 0x40, 0x80 + code_point % 0x40)
end

-- --- Strings -----------------------------------------------------------------

local function hex_digit(c)
  if c == nil then
    return nil
  elseif c >= 48 and c <= 57 then -- 0-9
    return c - 48
  elseif c >= 65 and c <= 70 then -- A-F
    return c - 55
  elseif c >= 97 and c <= 102 then -- a-f
    return c - 87
  end
  return nil
end

-- Returns the value of the four hexadecimal digits at index k, or nil.
local function hex4(s, k)
  local a, b, c, d = hex_digit(byte(s, k)), hex_digit(byte(s, k + 1)), hex_digit(byte(s, k + 2)),
    hex_digit(byte(s, k + 3))
  if a and b and c and d then
    return ((a * 16 + b) * 16 + c) * 16 + d
  end
  return nil
end

-- Decodes the escapes of a string's raw text, which scan_string has checked.
local function decode_escapes(raw)
  local parts, count, i = {}, 0, 1
  while true do
    local k = find(raw, "\\", i, true)
    if not k then
      count = count + 1
      parts[count] = sub(raw, i)
      return concat(parts)
    end
    count = count + 1
    parts[count] = sub(raw, i, k - 1)
    local escape = byte(raw, k + 1)
    if escape == 117 then -- \uXXXX, or a surrogate pair \uD8xx\uDCxx
      local code_point, length = hex4(raw, k + 2), 6
      if code_point >= 0xD800 and code_point <= 0xDBFF then
        code_point = 0x10000 + (code_point - 0xD800) * 0x400 + (hex4(raw, k + 8) - 0xDC00)
        length = 12
      end
      count = count + 1
      parts[count] = utf8_encode(code_point)
      i = k + length
    else
      count = count + 1
      parts[count] = SIMPLE_ESCAPES[escape]
      i = k + 2
    end
  end
end

-- Checks the string whose opening quote is at index i. Returns the index
-- after its closing quote and, when want_value is true, its decoded value.
-- The scanners loop over bytes with string.byte. In Envoy 1.40 that
-- measured about ten times faster than string.find with a character class
-- (2.4 against 30 ms for 1 MB of ASCII text, on a shared 2-core machine).
local function scan_string(s, i, want_value)
  local j, escaped = i + 1, false
  while true do
    local c = byte(s, j)
    if c == nil then
      reject(i, "the string that starts here is not closed", "end every string with a double quote")
    elseif c >= 0x20 and c < 0x80 and c ~= QUOTE and c ~= BACKSLASH then
      j = j + 1
    elseif c == QUOTE then
      if not want_value then
        return j + 1
      end
      local raw = sub(s, i + 1, j - 1)
      return j + 1, escaped and decode_escapes(raw) or raw
    elseif c == BACKSLASH then
      escaped = true
      local escape = byte(s, j + 1)
      if escape == 117 then -- \uXXXX
        local code_point = hex4(s, j + 2)
        if not code_point then
          reject(j, "invalid \\u escape", "write \\u and four hexadecimal digits, such as \\u00e9")
        end
        if code_point >= 0xD800 and code_point <= 0xDBFF then
          local low = byte(s, j + 6) == BACKSLASH and byte(s, j + 7) == 117 and hex4(s, j + 8)
          if not low or low < 0xDC00 or low > 0xDFFF then
            reject(j, format("unpaired surrogate \\u%04X", code_point),
              "follow a high surrogate (\\uD800..\\uDBFF) with a low one (\\uDC00..\\uDFFF), or send the character as UTF-8")
          end
          j = j + 12
        elseif code_point >= 0xDC00 and code_point <= 0xDFFF then
          reject(j, format("unpaired surrogate \\u%04X", code_point),
            "put a low surrogate (\\uDC00..\\uDFFF) only after a high one (\\uD800..\\uDBFF), or send the character as UTF-8")
        else
          j = j + 6
        end
      elseif SIMPLE_ESCAPES[escape] then
        j = j + 2
      else
        reject(j, "invalid escape in a string",
          "use only \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX")
      end
    elseif c < 0x20 then
      reject(j, format("control character 0x%02X in a string", c), "escape it, such as \\n, \\t or \\u0001")
    else
      local after = utf8_sequence_end(s, j)
      if not after then
        reject(j, "invalid UTF-8", "send the body as UTF-8")
      end
      j = after
    end
  end
end

-- --- Numbers and literals ----------------------------------------------------

local function is_digit(c)
  return c ~= nil and c >= ZERO and c <= NINE
end

-- Returns the index after the run of digits that starts at index i.
local function skip_digits(s, i)
  while is_digit(byte(s, i)) do
    i = i + 1
  end
  return i
end

local function skip_whitespace(s, i)
  local c = byte(s, i)
  while c == 32 or c == 10 or c == 13 or c == 9 do
    i = i + 1
    c = byte(s, i)
  end
  return i
end

-- Checks the number at index i (RFC 8259: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)
-- and returns the index after it.
local function scan_number(s, i)
  local j = i
  if byte(s, j) == MINUS then
    j = j + 1
  end
  local c = byte(s, j)
  if c == ZERO then
    j = j + 1
    if is_digit(byte(s, j)) then
      reject(i, "a number with a leading zero", "write the number without leading zeros")
    end
  elseif is_digit(c) then
    j = skip_digits(s, j + 1)
  elseif sub(s, j, j + 7) == "Infinity" then
    reject(i, "-Infinity is not JSON", "send a finite number")
  else
    reject(i, "a '-' without digits", "write a digit after the minus sign")
  end

  if byte(s, j) == DOT then
    if not is_digit(byte(s, j + 1)) then
      reject(j, "no digit after the decimal point", "write at least one digit after the '.'")
    end
    j = skip_digits(s, j + 1)
  end

  c = byte(s, j)
  if c == 101 or c == 69 then -- e, E
    j = j + 1
    c = byte(s, j)
    if c == PLUS or c == MINUS then
      j = j + 1
    end
    if not is_digit(byte(s, j)) then
      reject(j, "no digit in the exponent", "write the exponent as digits, such as 1e-7")
    end
    j = skip_digits(s, j)
  end
  return j
end

local LITERALS = { [116] = "true", [102] = "false", [110] = "null" }

-- --- Error text --------------------------------------------------------------

-- Returns text as a JSON string literal. Bytes other than printable ASCII
-- pass through unchanged, so callers give it valid UTF-8 only.
local function json_string(text)
  return '"' .. gsub(text, '[%z\1-\31"\\\127]', function(c)
    if c == '"' or c == "\\" then
      return "\\" .. c
    end
    return format("\\u%04x", byte(c))
  end) .. '"'
end

-- Cuts valid UTF-8 text to at most MAX_ECHO_BYTES, on a character boundary.
local function shorten(text)
  if #text <= MAX_ECHO_BYTES then
    return text
  end
  local cut = MAX_ECHO_BYTES
  while cut > 0 do
    local next_byte = byte(text, cut + 1)
    if next_byte < 0x80 or next_byte > 0xBF then
      break
    end
    cut = cut - 1
  end
  return sub(text, 1, cut) .. "..."
end

-- Returns a header value fit to repeat in an error: bytes other than
-- printable ASCII become '?'.
local function printable_header(value)
  return (gsub(value, "[^\32-\126]", "?"))
end

-- Names the byte at index i of s for an error message.
local function describe_byte(s, i)
  local c = byte(s, i)
  if c == nil then
    return "the end of the body"
  elseif c > 32 and c < 127 then
    return "'" .. char(c) .. "'"
  elseif c >= 0x80 then
    return "a non-ASCII character"
  end
  return format("byte 0x%02X", c)
end

-- Explains an unexpected byte where a value, a key or a delimiter belongs.
-- Returns the problem and the fix.
local function explain_unexpected(s, i, expected)
  local c = byte(s, i)
  if c == APOSTROPHE then
    return "a single-quoted string", "use double quotes around every key and string"
  elseif c == SLASH then
    return "a comment", "remove it, because JSON has no comments"
  elseif sub(s, i, i + 2) == "NaN" then
    return "NaN is not JSON", "send a number, or leave the field out"
  elseif sub(s, i, i + 7) == "Infinity" then
    return "Infinity is not JSON", "send a finite number"
  elseif c == PLUS then
    return "a number with a '+' sign", "write the number without '+'"
  elseif c == DOT then
    return "a number without a digit before the '.'", "write a digit before the decimal point, such as 0.5"
  elseif c == nil then
    return "the body ends early", "send the whole JSON object, expecting " .. expected .. " here"
  elseif c >= 0x80 and not utf8_sequence_end(s, i) then
    return "invalid UTF-8", "send the body as UTF-8"
  end
  return "unexpected " .. describe_byte(s, i), "expected " .. expected
end

-- Returns the JSONPath of the value being read, such as $.people[1].name.
local function json_path(stack)
  local parts = { "$" }
  for level = 1, #stack do
    local frame = stack[level]
    if frame.is_array then
      parts[#parts + 1] = "[" .. frame.index .. "]"
    elseif frame.key then
      if find(frame.key, "^[%a_][%w_]*$") then
        parts[#parts + 1] = "." .. frame.key
      else
        parts[#parts + 1] = "[" .. json_string(shorten(frame.key)) .. "]"
      end
    end
  end
  return concat(parts)
end

-- Returns "line L, column C" for index i, with the column in characters.
local function line_and_column(s, i)
  local before = sub(s, 1, i - 1)
  local _, newlines = gsub(before, "\n", "")
  local line_start = 1
  for k = #before, 1, -1 do
    if byte(before, k) == 10 then
      line_start = k + 1
      break
    end
  end
  local _, continuation_bytes = gsub(sub(before, line_start), "[\128-\191]", "")
  return format("line %d, column %d", newlines + 1, i - line_start - continuation_bytes + 1)
end

-- --- Parser ------------------------------------------------------------------

-- Returns the name protobuf's JSON parser gives a field key: underscores
-- dropped and the letter after each upper-cased, so journal_text and
-- journalText are one field.
local function field_name(key)
  if not find(key, "_", 1, true) then
    return key
  end
  return (gsub(key, "_+(.?)", upper))
end

-- Checks that s is one strict JSON object. Raises a Violation (through
-- reject) at the first problem. The stack contains one frame per open object
-- or array, so the parser needs no recursion.
local function check_body(s, stack)
  local i = skip_whitespace(s, 1)
  if sub(s, i, i + 2) == "\239\187\191" then
    reject(i, "a byte order mark", "send UTF-8 without a byte order mark")
  end
  if byte(s, i) ~= OPEN_BRACE then
    local problem, fix = explain_unexpected(s, i, "'{'")
    if byte(s, i) == OPEN_BRACKET or byte(s, i) == QUOTE or is_digit(byte(s, i)) then
      problem, fix = "the body is not a JSON object", "send one object, such as {\"field\": \"value\"}"
    end
    reject(i, problem, fix)
  end

  local state = "value" -- value, key or after (a value was read)
  while true do
    i = skip_whitespace(s, i)
    local c = byte(s, i)

    if state == "value" then
      if c == OPEN_BRACE or c == OPEN_BRACKET then
        if #stack >= MAX_DEPTH then
          reject(i, format("objects and arrays nested deeper than %d levels", MAX_DEPTH), "flatten the body")
        end
        local is_array = c == OPEN_BRACKET
        stack[#stack + 1] = is_array and { is_array = true, index = 0 } or { keys = {} }
        local after_open = skip_whitespace(s, i + 1)
        if byte(s, after_open) == (is_array and CLOSE_BRACKET or CLOSE_BRACE) then
          stack[#stack] = nil
          i, state = after_open + 1, "after"
        else
          i, state = i + 1, is_array and "value" or "key"
        end
      elseif c == QUOTE then
        i, state = scan_string(s, i, false), "after"
      elseif c == MINUS or is_digit(c) then
        i, state = scan_number(s, i), "after"
      elseif LITERALS[c] and sub(s, i, i + #LITERALS[c] - 1) == LITERALS[c] then
        i, state = i + #LITERALS[c], "after"
      elseif c == CLOSE_BRACKET and stack[#stack] and stack[#stack].is_array then
        reject(i, "a trailing comma before ']'", "remove the comma after the last element")
      else
        reject(i, explain_unexpected(s, i, "a value"))
      end

    elseif state == "key" then
      -- Until the key passes, errors name the object that contains it.
      local frame = stack[#stack]
      frame.key = nil
      if c == CLOSE_BRACE then
        reject(i, "a trailing comma before '}'", "remove the comma after the last member")
      elseif c ~= QUOTE then
        local problem, fix = explain_unexpected(s, i, "a key in double quotes")
        if c and (c == 95 or find(char(c), "%a")) then
          problem, fix = "a key without quotes", "put every key in double quotes"
        end
        reject(i, problem, fix)
      end
      local key_start = i
      local key
      i, key = scan_string(s, i, true)
      local name = field_name(key)
      local earlier = frame.keys[name]
      if earlier == key then
        reject(key_start, "duplicate key " .. json_string(shorten(key)), "send each field once")
      elseif earlier then
        reject(key_start, format("keys %s and %s name the same field", json_string(shorten(earlier)),
          json_string(shorten(key))), "send each field once, under one name")
      end
      frame.keys[name] = key
      frame.key = key

      i = skip_whitespace(s, i)
      if byte(s, i) ~= COLON then
        reject(i, explain_unexpected(s, i, "':' after the key"))
      end
      i, state = i + 1, "value"

    else -- after a value
      local frame = stack[#stack]
      if frame == nil then
        if c ~= nil then
          reject(i, "more after the JSON object", "send exactly one object")
        end
        return
      end
      if c == COMMA then
        if frame.is_array then
          frame.index = frame.index + 1
          i, state = i + 1, "value"
        else
          i, state = i + 1, "key"
        end
      elseif c == (frame.is_array and CLOSE_BRACKET or CLOSE_BRACE) then
        stack[#stack] = nil
        i = i + 1
      else
        local closing = frame.is_array and "']'" or "'}'"
        local problem, fix = explain_unexpected(s, i, "',' or " .. closing)
        if c == QUOTE or c == OPEN_BRACE or c == OPEN_BRACKET or is_digit(c) then
          problem, fix = "a missing comma", "put a ',' between members and between elements"
        end
        reject(i, problem, fix)
      end
    end
  end
end

-- --- Replies -----------------------------------------------------------------

-- Returns an error in the shared shape, the JSON form of google.rpc.Status.
local function error_body(failure, request_id)
  local details = {
    format('{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":%s,"domain":%s,"metadata":{"request_id":%s}}',
      json_string(failure.reason), json_string(DOMAIN), json_string(printable_header(request_id))),
  }
  if failure.field then
    details[2] = format('{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[{"field":%s,"description":%s}]}',
      json_string(failure.field), json_string(failure.description))
  end
  return format('{"code":%d,"message":%s,"details":[%s]}', failure.grpc_code, json_string(failure.message),
    concat(details, ","))
end

-- Returns nil when content_type is application/json with an optional
-- charset=utf-8, or else the reason it is not.
local function content_type_problem(content_type)
  local media_type, parameters = content_type:lower():match("^[ \t]*([^;]*)(.*)$")
  if media_type:match("^(.-)[ \t]*$") ~= "application/json" then
    return format("Content-Type %s is not supported for a request body",
      json_string(shorten(printable_header(content_type))))
  end
  for parameter in parameters:gmatch("[^;]+") do
    local name, value = parameter:match("^[ \t]*([^=]-)[ \t]*=[ \t]*(.-)[ \t]*$")
    if name == "charset" and value:gsub('^"(.*)"$', "%1") ~= "utf-8" then
      return format("Content-Type %s names a charset other than utf-8",
        json_string(shorten(printable_header(content_type))))
    end
  end
  return nil
end

-- Returns the HTTP status and the error body that reject a request with
-- this Content-Type and body, or nil to let it through.
local function check_request(content_type, body, request_id)
  local media_problem
  if content_type == nil then
    media_problem = "no Content-Type header on a request with a body"
  else
    media_problem = content_type_problem(content_type)
  end
  if media_problem then
    return 415, error_body({
      grpc_code = 3, reason = "UNSUPPORTED_MEDIA_TYPE",
      message = media_problem .. ": send Content-Type: application/json with a UTF-8 JSON body",
    }, request_id)
  end

  local stack = {}
  local ok, violation = pcall(check_body, body, stack)
  if ok then
    return nil
  end
  if getmetatable(violation) ~= Violation then
    error(violation, 0)
  end
  local path = json_path(stack)
  local position = line_and_column(body, violation.position)
  return 400, error_body({
    grpc_code = 3, reason = "INVALID_JSON",
    message = format("invalid JSON body: %s at %s (%s): %s", violation.problem, path, position, violation.fix),
    field = path,
    description = format("%s (%s): %s", violation.problem, position, violation.fix),
  }, request_id)
end

local function is_grpc_call(headers)
  local content_type = headers:get("content-type") or ""
  return headers:get(":method") == "POST"
    and (content_type == "application/grpc" or sub(content_type, 1, 17) == "application/grpc+")
end

-- Returns the body limit in bytes that the set_metadata filter before this
-- one passes in (ext_authz's max_request_bytes), or nil when it is missing.
local function max_body_bytes(handle)
  local settings = handle:streamInfo():dynamicMetadata():get("defrag.strict_json")
  return settings and tonumber(settings.max_body_bytes)
end

-- Sends 413, which local_reply_config gives the same JSON body as the
-- edge's other 413s.
local function respond_too_large(handle)
  handle:respond({ [":status"] = "413" }, "request body too large")
end

-- Envoy lets a request through when this function raises, so the code here
-- stays small and the checks run under pcall. A fault in them rejects the
-- body with a 500 instead.
function envoy_on_request(handle)
  local headers = handle:headers()
  if is_grpc_call(headers) then
    return
  end

  -- A body over the limit gets 413 before any other check, as it did before
  -- this script, and a declared length over it is rejected unread.
  local limit = max_body_bytes(handle)
  local content_length = headers:get("content-length")
  local declared_length = content_length and tonumber(content_length)
  if limit and declared_length and declared_length > limit then
    respond_too_large(handle)
    return
  end
  local buffer = handle:body()
  if buffer == nil or buffer:length() == 0 then
    return
  end
  if limit and buffer:length() > limit then
    respond_too_large(handle)
    return
  end

  -- A headers object does not outlive the wait in body(), so it is fetched again.
  headers = handle:headers()
  local request_id = headers:get("x-request-id") or ""
  local ok, status, reply = pcall(check_request, headers:get("content-type"),
    buffer:getBytes(0, buffer:length()), request_id)
  if not ok then
    handle:logErr("strict JSON check failed: " .. tostring(status))
    status, reply = 500, error_body({
      grpc_code = 13, reason = "INTERNAL",
      message = "the edge could not check the JSON body; send it again, and report the request id if this repeats",
    }, request_id)
  end
  if status then
    -- local_reply_config passes this script's 400, 415 and 500 through as they are.
    handle:respond({ [":status"] = tostring(status), ["content-type"] = "application/json" }, reply)
  end
end
