// Package discovery finds USP Endpoints and makes them known, as TR-369's
// "Discovery and Advertisement" section describes: mDNS with DNS-SD records
// (RFC 6762, RFC 6763) for the USP service types, and the Broadband Forum's
// encapsulated DHCP vendor options (enterprise number 3561) that tell an
// Agent about a Controller.
//
// It owns the DNS-SD names and TXT attributes of each MTP ([R-DIS.8] to
// [R-DIS.11a], [R-WS.3], [R-MQTT.36] to [R-MQTT.38], [R-STOMP.31],
// [R-STOMP.32]), an mDNS responder (Advertise) and querier (Browse, Lookup,
// Resolve) that run on a named interface, DNS-SD over unicast DNS for a
// Controller's FQDN (LookupDNS), the DHCPv4 option 125 and DHCPv6 option 17
// codec, and readers for the leases of common DHCP clients. It
// does not import the agent, the controller or any MTP: they hand it what
// to advertise and take what it finds.
//
//	r, err := discovery.Advertise(ctx, &discovery.Options{Interface: "eth0"}, discovery.Service{
//		Instance: "proto::controller", Type: discovery.ControllerMQTT,
//		Host: "broker.example.com", Port: 1883, Path: "usp/controller",
//	})
//	…
//	defer r.Close()
//
// mDNS runs over IPv4 (224.0.0.251) and IPv6 (ff02::fb); the responder does
// not probe for name conflicts, since the names it claims are made of
// Endpoint IDs, which are unique.
package discovery
