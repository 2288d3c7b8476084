package softwaremodules

import "github.com/uspkit/uspkit/usperr"

// commandError is err as the failure of the command that met it, for its
// OperationComplete [R-OPR.0]. DUStateChange! keeps the code TR-181 gives
// the fault; the command's failure must be a code TR-369 1.3 defines, and
// its error table has no 7033 (Server Unreachable), 7034 (Server Insecure)
// or 7035 (Corrupt Data): TR-181 defines them for DUStateChange! alone.
// Those become 7022 (Command failure), with the event's code in the
// message. TR-369 reserves 7200-7299 for codes the data model defines, so
// TR-181's 7223-7229 stay as they are.
func commandError(err error) error {
	switch c := usperr.Code(err); c {
	case CodeServerUnreachable, CodeServerInsecure, CodeCorruptData:
		return usperr.Errorf(usperr.CodeCommandFailure, "%s (DUStateChange! fault %d)", usperr.Message(err), c)
	}
	return err
}
