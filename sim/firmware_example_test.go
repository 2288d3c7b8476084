package sim_test

import (
	"fmt"

	"github.com/uspkit/uspkit/sim"
)

// With FailFraction 0.05, exactly one simulated Agent in 20 fails its
// downloads.
func ExampleFirmware_Fails() {
	fw := &sim.Firmware{FailFraction: 0.05}
	var failing []int
	for i := range 100 {
		if fw.Fails(i) {
			failing = append(failing, i)
		}
	}
	fmt.Println(failing)
	// Output: [19 39 59 79 99]
}
