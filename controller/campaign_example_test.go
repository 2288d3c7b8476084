package controller_test

import (
	"fmt"

	"github.com/uspkit/uspkit/controller"
)

// The command a firmware campaign sends each Agent, on the bank it picks
// there (bank 1 in this example).
func ExampleCampaignSpec_Request() {
	spec := controller.CampaignSpec{Kind: controller.KindFirmware, URL: "https://fw.example.com/2.1.bin",
		CheckSumAlgorithm: "SHA-256", CheckSum: "9f86d081", AutoActivate: true}
	op := spec.Request().GetOperate()
	fmt.Println(op.GetCommand())
	args := op.GetInputArgs()
	fmt.Println(args["URL"], args["AutoActivate"], args["CheckSumAlgorithm"])
	// Output:
	// Device.DeviceInfo.FirmwareImage.1.Download()
	// https://fw.example.com/2.1.bin true SHA-256
}
