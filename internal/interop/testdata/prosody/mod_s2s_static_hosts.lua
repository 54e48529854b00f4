-- Test-only Prosody module: resolve the domains listed in
-- s2s_static_hosts = { ["domain"] = { "127.0.0.1", port } } to that
-- address instead of DNS, as Ignis's [s2s.hosts] does, so that the
-- interop tests reach a peer on a loopback port.
local manual = require "net.resolvers.manual";
local service = require "net.resolvers.service";

local hosts = module:get_option("s2s_static_hosts", {});
local orig_new = service.new;

service.new = function (hostname, srv, proto, extra)
	local target = hosts[hostname];
	if target and srv == "xmpp-server" then
		module:log("debug", "%s resolves to %s:%d (s2s_static_hosts)", hostname, target[1], target[2]);
		return manual.new({ { "tcp4", target[1], target[2], extra } }, "tcp", extra);
	end
	if target then
		return manual.new({}, "tcp", extra); -- no direct TLS there
	end
	return orig_new(hostname, srv, proto, extra);
end

function module.unload()
	service.new = orig_new;
end
