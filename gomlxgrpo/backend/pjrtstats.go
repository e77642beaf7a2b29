package backend

/*
#include <string.h>
#include "pjrt_c_api.h"

// gg_memory_stats fills out[0..3] with bytes in use, peak in use, pool and peak pool of a PJRT
// device (-1 for a figure the plugin does not set); it returns 0, or 1 when the call failed (the
// error is destroyed: the stats are diagnostic).
static int gg_memory_stats(const PJRT_Api* api, PJRT_Device* dev, long long* out) {
	PJRT_Device_MemoryStats_Args a;
	memset(&a, 0, sizeof a);
	a.struct_size = PJRT_Device_MemoryStats_Args_STRUCT_SIZE;
	a.device = dev;
	PJRT_Error* err = api->PJRT_Device_MemoryStats(&a);
	if (err) {
		PJRT_Error_Destroy_Args ea;
		memset(&ea, 0, sizeof ea);
		ea.struct_size = PJRT_Error_Destroy_Args_STRUCT_SIZE;
		ea.error = err;
		api->PJRT_Error_Destroy(&ea);
		return 1;
	}
	out[0] = a.bytes_in_use;
	out[1] = a.peak_bytes_in_use_is_set ? a.peak_bytes_in_use : -1;
	out[2] = a.pool_bytes_is_set ? a.pool_bytes : -1;
	out[3] = a.peak_pool_bytes_is_set ? a.peak_pool_bytes : -1;
	return 0;
}
*/
import "C"

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

// pjrtStats asks XLA's PJRT device 0 for its allocator's statistics (PJRT_Device_MemoryStats).
// go-xla v0.4.4 does not wrap it, so its client's device and API pointers are read with FieldPtr
// (pinned versions; the cuda package's TestAllocatorStats checks the figures on a GPU).
func pjrtStats(be compute.Backend) (AllocatorStats, error) {
	xb, ok := be.(*xla.Backend)
	if !ok {
		return AllocatorStats{}, fmt.Errorf("backend: backend %q is not go-xla's", be.Name())
	}
	cf, err := FieldPtr(xb, "client")
	if err != nil {
		return AllocatorStats{}, err
	}
	client := *(**pjrt.Client)(cf)
	if client == nil || len(client.AddressableDevices()) == 0 {
		return AllocatorStats{}, fmt.Errorf("backend: the XLA backend has no device")
	}
	dev := client.AddressableDevices()[0]
	cd, err := FieldPtr(dev, "cDevice")
	if err != nil {
		return AllocatorStats{}, err
	}
	api, err := FieldPtr(dev, "plugin", "api")
	if err != nil {
		return AllocatorStats{}, err
	}
	var out [4]C.longlong
	if C.gg_memory_stats(*(**C.PJRT_Api)(api), *(**C.PJRT_Device)(cd), &out[0]) != 0 {
		return AllocatorStats{}, fmt.Errorf("backend: PJRT_Device_MemoryStats failed")
	}
	return AllocatorStats{InUse: int64(out[0]), PeakInUse: int64(out[1]), Pool: int64(out[2]), PeakPool: int64(out[3])}, nil
}
