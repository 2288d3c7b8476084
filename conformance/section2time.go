package conformance

// section2Time implements 2.6: an Agent that cannot obtain absolute time
// ignores the dates of the Controller's certificate [R-SEC.19]. The runner
// cannot take the Agent's clock away nor change its own certificate, so
// the case runs when Options.ExpiredCert says the setup is in place: the
// runner's connection already carries an expired certificate, and the
// Agent answers the Get over it.
func section2Time(m map[string]caseFunc) {
	m["2.6"] = caseFunc{run: func(t *T) {
		if !t.r.o.ExpiredCert {
			t.Skipf("needs an agent without absolute time and an expired controller certificate (ExpiredCert, --expired-cert)")
		}
		r := t.getResp(t.Do(getReq("Device.LocalAgent.")))
		t.Check(len(r.GetReqPathResults()) == 1 && r.GetReqPathResults()[0].GetErrCode() == 0, "GetResp %v", r)
		t.Check(len(flat(r)) > 0, "GetResp without parameters: %v", r)
	}}
}
