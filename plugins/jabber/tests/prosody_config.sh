# prosody_config DIR PORT DOMAIN LOG_LEVEL GLOBAL_LUA COMPONENTS_LUA: writes DIR/prosody.cfg.lua, a
# prosody on 127.0.0.1:PORT only (no s2s; HTTP on 127.0.0.1:$PROSODY_HTTP_PORT when that is set,
# else none; HTTPS on $PROSODY_HTTPS_PORT likewise), data and pid in DIR, in-band registration,
# plain passwords accepted without TLS, log at LOG_LEVEL to DIR/prosody.log. Used by the tests
# and scripts/bench_jabber.sh.
prosody_config() {
  cat > "$1/prosody.cfg.lua" <<CFG
pidfile = "$1/prosody.pid"
data_path = "$1/data"
run_as_root = true
c2s_ports = { $2 }
c2s_interfaces = { "127.0.0.1" }
interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { ${PROSODY_HTTP_PORT:-} }
https_ports = { ${PROSODY_HTTPS_PORT:-} }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
modules_disabled = { "s2s" }
allow_registration = true
min_seconds_between_registrations = 0
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
log = { $4 = "$1/prosody.log" }
modules_enabled = { "roster"; "saslauth"; "legacyauth"; "disco"; "register"; "offline"; "ping"; "posix"; "tls" }
$5
VirtualHost "$3"
$6
CFG
}
