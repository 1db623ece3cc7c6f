#pragma once
// GET /digest: HTTP digest authentication (RFC 2617, qop=auth or none) for user "user",
// password "passwd", realm "loadtarget". Without a valid Authorization header: 401 with a
// WWW-Authenticate challenge; with one: 200 "authenticated". Any nonce the challenge format
// allows is accepted, so the check is the client's computation, not nonce bookkeeping.

#include <cstdint>

#include "http_routes.hpp"

namespace loadtarget {

void route_digest(const HttpRequest& req, std::uint64_t sequence, HttpResponse& res);

}  // namespace loadtarget
