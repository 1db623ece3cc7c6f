#pragma once
// The part of SNMP v1/v2c (RFC 1157, RFC 3416) a monitor needs: a GetRequest message and its
// GetResponse, in BER. Decoding is bounded by the datagram and never trusts a length.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::monitor {

using Oid = std::vector<std::uint32_t>;

struct SnmpVarBind {
  Oid oid;
  std::optional<double> value;  ///< INTEGER, Counter32/64, Gauge32, TimeTicks, UInteger32, an
                                ///< Opaque float/double or a numeric string; finite only
  bool is_float = false;        ///< an Opaque float/double or a string with a fraction or exponent
};

struct SnmpResponse {
  std::int64_t version = 0;  ///< 0 = v1, 1 = v2c: as the request's
  std::string community;     ///< as the request's
  std::int64_t request_id = 0;
  std::int64_t error_status = 0;  ///< 0 noError, 1 tooBig, 2 noSuchName (v1), ...
  std::int64_t error_index = 0;   ///< 1-based varbind the error is about
  std::vector<SnmpVarBind> varbinds;
};

/// version: 0 = v1, 1 = v2c. Empty when the message would not fit in one UDP datagram.
std::string encode_snmp_get(int version, std::string_view community, std::int32_t request_id,
                            const std::vector<Oid>& oids);
/// A GetResponse (or, for tests, any PDU) message; nothing if the bytes are not one.
std::optional<SnmpResponse> decode_snmp_response(std::string_view datagram);
/// "1.3.6.1..." for messages.
std::string oid_text(const Oid& oid);

}  // namespace loadctl::monitor
