// Package vendorfiles serves Device.DeviceInfo.VendorConfigFile.{i} with
// Backup() and Restore(), and Device.DeviceInfo.VendorLogFile.{i} with
// Upload(), as TR-181 Device:2.16 defines them.
//
// A vendor describes each file by what it does: a ConfigFile writes its
// content for Backup() and takes new content for Restore(); a LogFile opens
// its content for Upload(). Backup() and Upload() send the file with an
// HTTP PUT (a POST when the server answers 405) to the URL given, with the
// Username and Password as HTTP Basic credentials; Restore() fetches the
// URL the same way, checks FileSize and the CheckSum, and only then hands
// the content over. Options.Logs are rows 1 onwards; AddLog and RemoveLog
// add and remove rows for logs that come and go with something else, such
// as an Execution Unit's. LogRing keeps the newest bytes of a log in memory for
// an Agent that logs nowhere else.
package vendorfiles
