package record

import (
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/usperr"
)

// SupportedVersions lists the USP versions whose Records this package reads,
// in the comma-separated form of GetSupportedProtocol.
const SupportedVersions = "1.0,1.1,1.2,1.3,1.4"

// Validate applies the record-level value rules of TR-369 to a decoded
// Record. It returns nil or an *usperr.Error with code 7104 (Invalid Record
// value) naming the first field at fault. It does not compare ToID with the
// receiver's own Endpoint ID: a Record for another Endpoint is not invalid,
// it is to be ignored [R-E2E.1].
func (r *Record) Validate() error {
	if err := checkVersion(r.Version); err != nil {
		return err
	}
	// [R-MTP.4b] Required fields must be present.
	if r.ToID == "" {
		return invalid("to_id is required")
	}
	if r.FromID == "" {
		return invalid("from_id is required")
	}
	if r.PayloadSecurity > PayloadSecurityTLS12 {
		return invalid("payload_security %d is not defined", r.PayloadSecurity)
	}
	return r.validateBody()
}

func (r *Record) validateBody() error {
	switch r.Type {
	case TypeNone:
		return invalid("record_type is not set")
	case TypeNoSessionContext:
		// [R-E2E.41] TLS payload security needs a session context.
		if r.PayloadSecurity != PayloadSecurityPlaintext {
			return invalid("payload_security TLS12 requires a session_context record")
		}
		// [R-E2E.26] A non-empty payload must be included.
		if len(r.Payload) == 0 {
			return invalid("no_session_context record has no payload")
		}
	case TypeSessionContext:
		return r.Session.validate()
	case TypeMQTTConnect:
		if r.MQTT.Version > MQTTVersion5 {
			return invalid("mqtt_connect version %d is not defined", r.MQTT.Version)
		}
		if r.MQTT.SubscribedTopic == "" {
			return invalid("mqtt_connect subscribed_topic is required")
		}
	case TypeSTOMPConnect:
		if r.STOMP.Version != STOMPVersion12 {
			return invalid("stomp_connect version %d is not defined", r.STOMP.Version)
		}
		if r.STOMP.SubscribedDestination == "" {
			return invalid("stomp_connect subscribed_destination is required")
		}
	}
	return nil
}

func (s *SessionContext) validate() error {
	if s.PayloadSAR > sarStateLastDefined || s.PayloadRecSAR > sarStateLastDefined {
		return invalid("session_context payload SAR state is not defined")
	}
	if s.PayloadSAR == SARStateNone && s.PayloadRecSAR != SARStateNone {
		return invalid("payloadrec_sar_state must be NONE when payload_sar_state is NONE")
	}
	switch {
	case s.SessionID == 0:
		return invalid("session_context session_id is required")
	case s.SequenceID == 0:
		return invalid("session_context sequence_id is required")
	case s.ExpectedID == 0:
		return invalid("session_context expected_id is required")
	}
	return nil
}

// checkVersion accepts "1.N": every minor version of USP 1 is read, as a
// newer minor version only adds what older readers may ignore.
func checkVersion(v string) error {
	if v == "" {
		return invalid("version is required")
	}
	major, minor, ok := strings.Cut(v, ".")
	if !ok || !isDigits(major) || !isDigits(minor) {
		return invalid("version %q is not of the form major.minor", v)
	}
	if m, err := strconv.Atoi(major); err != nil || m != 1 {
		return invalid("version %q is not supported (supported: %s)", v, SupportedVersions)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func invalid(format string, args ...any) error {
	return usperr.Errorf(usperr.CodeInvalidRecordValue, format, args...)
}
