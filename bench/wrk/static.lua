-- One request repeated: discovery, JWKS, client_credentials, introspection, userinfo.
-- BENCH_METHOD, BENCH_BODY (form-encoded), BENCH_AUTH (Authorization header); the URL gives the path.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH") or ""
if auth ~= "" then wrk.headers["Authorization"] = auth end

function response(status, headers, body)
  count(status)
  if status == 200 then completed = completed + 1 end
end
