// Package mtpbench measures every MTP in one run: sequential round trips
// (a Record sent, echoed by the far end, received) over loopback, with
// real brokers for the brokered MTPs. It holds only its test.
package mtpbench
