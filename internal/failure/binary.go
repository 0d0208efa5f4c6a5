package failure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ClassBinaryLen is the length in bytes of a Class's binary form
// (AppendBinary).
const ClassBinaryLen = 13

// Flag bits of a Class's binary form, byte 2.
const (
	binReused = 1 << iota
	binWritten
	binClientTimeout
	binUnprocessed
)

// errClassBinary is UnmarshalBinary's error for data that is not a
// Class's binary form.
var errClassBinary = errors.New("failure: not a Class's binary form")

// AppendBinary appends c's binary form to b and returns the extended
// slice: ClassBinaryLen bytes (Type, Phase, a flag byte for Reused,
// Written, ClientTimeout and Unprocessed, RequestStatus as a big-endian
// uint16, Idle in nanoseconds as a big-endian int64). It is how the
// request history keeps a class without keeping a pointer
// (accesslog.History); it never fails. It implements
// encoding.BinaryAppender.
func (c Class) AppendBinary(b []byte) ([]byte, error) {
	var flags byte
	for bit, on := range [...]bool{c.Reused, c.Written, c.ClientTimeout, c.Unprocessed} {
		if on {
			flags |= 1 << bit
		}
	}
	b = append(b, byte(c.Type), byte(c.Phase), flags)
	b = binary.BigEndian.AppendUint16(b, uint16(c.RequestStatus))
	return binary.BigEndian.AppendUint64(b, uint64(c.Idle)), nil
}

// UnmarshalBinary sets c to the class whose binary form (AppendBinary) is
// data. It returns an error, and leaves c as it was, when data is not
// ClassBinaryLen bytes long. It implements encoding.BinaryUnmarshaler.
func (c *Class) UnmarshalBinary(data []byte) error {
	if len(data) != ClassBinaryLen {
		return fmt.Errorf("%w: %d bytes, want %d", errClassBinary, len(data), ClassBinaryLen)
	}
	flags := data[2]
	*c = Class{
		Type:          ErrorType(data[0]),
		Phase:         Phase(data[1]),
		Reused:        flags&binReused != 0,
		Written:       flags&binWritten != 0,
		ClientTimeout: flags&binClientTimeout != 0,
		Unprocessed:   flags&binUnprocessed != 0,
		RequestStatus: int(binary.BigEndian.Uint16(data[3:5])),
		Idle:          time.Duration(binary.BigEndian.Uint64(data[5:13])),
	}
	return nil
}
