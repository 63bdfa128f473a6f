-- wrk replays a file of pre-signed requests (bench/wrk_client.py writes it), each once and in
-- order over all of its connections, then stops the moment the last answer has arrived:
--   wrk -t1 -cN -d600s -s bench/replay.lua http://127.0.0.1:PORT/ -- REQUESTS INDEX [RATE]
-- REQUESTS holds the requests back to back, INDEX the length of each, one a line. One thread:
-- its Lua state sees every answer, so it knows when the last one is in. With RATE (requests a
-- second), request n goes out (n - 1) / RATE seconds after the first, or as soon after as one of
-- the N connections is free: the latency of a given load rather than of as much as it takes.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } replay_timespec;
int clock_gettime(int clock, replay_timespec *now);
int kill(int pid, int sig);
int getpid(void);
]]
local CLOCK_MONOTONIC, SIGINT = 1, 2
local clock = ffi.new("replay_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (read back in done() with thread:get).
local requests, count = {}, 0
sent, answered, first, last = 0, 0, 0, 0
statuses, outcomes = {}, {}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local at = 1
  for line in io.lines(args[2]) do
    local length = tonumber(line)
    requests[#requests + 1] = data:sub(at, at + length - 1)
    at = at + length
  end
  count = #requests
  local rate = tonumber(args[3] or "")
  if rate and rate > 0 then
    -- wrk looks for delay() after init(), and calls it before each request but a
    -- connection's first: the milliseconds until the next free turn, which this
    -- connection claims (connections waiting at once get successive turns, not the same).
    local claimed = 0
    function delay()
      if sent == 0 then
        return 0
      end
      claimed = math.max(claimed, sent) + 1
      local due = first + (claimed - 1) / rate
      return math.max(0, math.floor((due - now()) * 1000 + 0.5))
    end
  end
end

local verified = false

function request()
  if not verified then
    -- wrk's first call, on thread 0 after init(), only checks that a request parses.
    verified = true
    return requests[1]
  end
  sent = sent + 1
  if sent == 1 then
    first = now()
  end
  -- Once every request is out, a connection sends nothing and waits: no load beyond the stream.
  return requests[sent] or ""
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  local outcome = body and body:match('"outcome":%s*"([%w_]+)"') or ("status " .. status)
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
  if answered == count then
    last = now()
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), SIGINT)  -- ends wrk's timed wait at once
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local out = {}
  for _, thread in ipairs(threads) do
    local function tally(name)
      for key, value in pairs(thread:get(name)) do
        table.insert(out, string.format("REPLAY %s %s %d", name, tostring(key), value))
      end
    end
    tally("statuses")
    tally("outcomes")
    table.insert(out, string.format("REPLAY sent %d", thread:get("sent")))
    table.insert(out, string.format("REPLAY answered %d", thread:get("answered")))
    table.insert(out, string.format("REPLAY elapsed %.6f", thread:get("last") - thread:get("first")))
  end
  for _, p in ipairs({50, 90, 99, 99.9}) do
    table.insert(out, string.format("REPLAY p%s %d", p, latency:percentile(p)))
  end
  table.insert(out, string.format("REPLAY max %d", latency.max))
  for _, kind in ipairs({"connect", "read", "write", "status", "timeout"}) do
    table.insert(out, string.format("REPLAY error_%s %d", kind, errors[kind]))
  end
  io.write(table.concat(out, "\n") .. "\n")
end
