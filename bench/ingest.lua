-- wrk script: POST /api/events spread round-robin over the API keys listed,
-- one per line, in the file named by the KEYS_FILE environment variable.
-- Spreading over many organisations keeps one tier's rate limit from
-- cutting the measurement, as real multi-tenant traffic would. It defines
-- no response() hook, so wrk keeps its fast path; wrk itself counts the
-- answers that are not 2xx.

local keys = {}
local next_key = 0
local counter = 0

local function load_keys()
  local path = os.getenv("KEYS_FILE")
  local file = assert(io.open(path, "r"), "cannot open KEYS_FILE " .. tostring(path))
  for line in file:lines() do
    if #line > 0 then keys[#keys + 1] = line end
  end
  file:close()
  assert(#keys > 0, "KEYS_FILE holds no keys")
end

function init(args)
  load_keys()
  next_key = math.random(0, #keys - 1)
end

function request()
  next_key = (next_key % #keys) + 1
  counter = counter + 1
  local body = '{"type":"order.created","payload":{"order_id":' .. counter ..
    ',"customer":"c-' .. (counter % 97) .. '","amount_cents":1999,' ..
    '"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}]}}'
  return wrk.format("POST", "/api/events", {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = keys[next_key],
  }, body)
end
