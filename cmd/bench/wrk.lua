-- wrk script of bin/bench http (cmd/bench/http.go): PUTs or GETs of 1 KB
-- values under random keys among those the benchmark loaded first.
--   wrk -s wrk.lua URL -- API TEST KEYS SIZE
-- API: gossipkv (PUT/GET /v1/kv/KEY) or etcd (POST /v3/kv/put and
-- /v3/kv/range, base64 in JSON; serializable ranges, read from the
-- member's own store as gossipkv's GETs are, without a Raft read index
-- round); TEST: put or get. Keys are
-- string.format("key:%06d", i) for i in 0..KEYS-1, values SIZE bytes of x.
-- done prints one line that the benchmark reads, "wrk-result k=v ...".

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1 = math.floor(n / 262144) % 64
    local d2 = math.floor(n / 4096) % 64
    local d3 = math.floor(n / 64) % 64
    local d4 = n % 64
    out[#out + 1] = b64chars:sub(d1 + 1, d1 + 1) .. b64chars:sub(d2 + 1, d2 + 1) ..
      (b and b64chars:sub(d3 + 1, d3 + 1) or "=") .. (c and b64chars:sub(d4 + 1, d4 + 1) or "=")
  end
  return table.concat(out)
end

local reqs = {}

function init(args)
  local api, test = args[1], args[2]
  local keys, size = tonumber(args[3]), tonumber(args[4])
  local value = string.rep("x", size)
  local evalue = base64(value)
  for i = 0, keys - 1 do
    local key = string.format("key:%06d", i)
    local r
    if api == "gossipkv" and test == "put" then
      r = wrk.format("PUT", "/v1/kv/" .. key, nil, value)
    elseif api == "gossipkv" and test == "get" then
      r = wrk.format("GET", "/v1/kv/" .. key)
    elseif api == "etcd" and test == "put" then
      r = wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"},
        '{"key":"' .. base64(key) .. '","value":"' .. evalue .. '"}')
    elseif api == "etcd" and test == "get" then
      r = wrk.format("POST", "/v3/kv/range", {["Content-Type"] = "application/json"},
        '{"key":"' .. base64(key) .. '","serializable":true}')
    else
      error("wrk.lua: unknown API or test: " .. tostring(api) .. " " .. tostring(test))
    end
    reqs[i + 1] = r
  end
end

function request()
  return reqs[math.random(#reqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
