// Package conformance runs the Broadband Forum's TP-469 conformance test
// plan for USP Agents as a black box: it acts as a scripted Controller,
// sends what each test case says over any MTP, and checks what comes back
// to the letter of the plan.
//
// Every case of the plan (sections 1 to 11) is a row keyed by its id, with
// its title and functionality tag. Cases that need what the run does not
// have — a second Controller, a reboot, an E2E session, control of a
// broker, a DHCP server, an optional data-model feature the Agent does not
// support — are skipped with the reason. The WebSocket cases (section 7)
// speak WebSocket frame by frame over connections of their own, through
// the Gate of Options.WebSocket. The MQTT and STOMP cases (sections 11 and
// 6, and 4.1) run servers of the runner's own, an MQTT 5.0 and a STOMP 1.2
// server that record every packet and frame and shape their answers: the
// runner adds, over USP, a Device.MQTT.Client or Device.STOMP.Connection
// and a Device.LocalAgent.MTP row that point the Agent at them, and
// deletes them when the case ends. Options.MTPTLS gives them a
// certificate the Agent trusts, for the TLS cases.
//
//	res, err := conformance.Run(ctx, conformance.Options{
//		AgentID: "os::012345-CPE1", ControllerID: "proto::runner",
//		Transport: t, AgentAddr: "os::012345-CPE1",
//	}, conformance.Match("1.*"))
//	conformance.WriteTable(os.Stdout, res)
//
// The package knows nothing of uspkit's own Agent: it speaks USP through
// the wire, record and mtp packages only, so that a bug in the Agent
// cannot hide itself in the judge.
package conformance
