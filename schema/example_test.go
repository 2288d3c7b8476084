package schema_test

import (
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

func ExampleModel_Define() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Fan.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.AliasKey()).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(8)), schema.ReadWrite).
		Param("Speed", schema.UnsignedInt(schema.Between(0, 100)), schema.ReadWrite, schema.Default("50"))

	speed := m.Param("Device.Fan.{i}.Speed")
	fmt.Println(speed.Default, speed.Type.Validate("80"))
	err := speed.Type.Validate("180")
	fmt.Println(usperr.Code(err), err)
	// Output:
	// 50 <nil>
	// 7012 "180": outside the allowed range [0:100]
}

func ExampleLoadXML() {
	doc := `<document><model name="Acme:1.0">
	  <object name="Device." access="readOnly">
	    <parameter name="Temperature" access="readOnly"><syntax><int><range minInclusive="-40" maxInclusive="125"/></int></syntax></parameter>
	  </object>
	</model></document>`
	m, err := schema.LoadXML(strings.NewReader(doc), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := m.Param("Device.Temperature")
	fmt.Println(p.Type.Base, p.Type.ValueType() == schema.ValueInt, p.Type.Validate("-41") != nil)
	// Output: int true true
}

func ExampleModel_Extend() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.DeviceInfo.").Param("SoftwareVersion", schema.String(schema.MaxLen(64)))
	m.Extend("Device.DeviceInfo.").Param("ActiveFirmwareImage", schema.String(schema.Ref()))
	fmt.Println(m.Param("Device.DeviceInfo.ActiveFirmwareImage") != nil, m.Param("Device.DeviceInfo.SoftwareVersion") != nil)
	// Output: true true
}
