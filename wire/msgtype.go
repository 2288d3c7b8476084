package wire

// RequestMsgType returns the header msg_type that goes with a request:
// GET for a Get, SET for a Set, and so on (ERROR for an empty request).
func RequestMsgType(r *Request) Header_MsgType {
	switch r.GetReqType().(type) {
	case *Request_Get:
		return Header_GET
	case *Request_Set:
		return Header_SET
	case *Request_Add:
		return Header_ADD
	case *Request_Delete:
		return Header_DELETE
	case *Request_Operate:
		return Header_OPERATE
	case *Request_GetInstances:
		return Header_GET_INSTANCES
	case *Request_GetSupportedDm:
		return Header_GET_SUPPORTED_DM
	case *Request_GetSupportedProtocol:
		return Header_GET_SUPPORTED_PROTO
	case *Request_Notify:
		return Header_NOTIFY
	case *Request_Register:
		return Header_REGISTER
	case *Request_Deregister:
		return Header_DEREGISTER
	}
	return Header_ERROR
}
