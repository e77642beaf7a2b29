//go:build cuda

package cuda

/*
#include <stdlib.h>
#include <string.h>
#include "../backend/pjrt_c_api.h"

// gg_buffer_ready blocks until a PJRT buffer's data is on the device (its definition event: a
// host-to-device transfer or the execution that produces it). On failure it returns PJRT's message
// (malloc'ed; the caller frees it).
static char* gg_buffer_ready(const PJRT_Api* api, PJRT_Buffer* buf) {
	PJRT_Buffer_ReadyEvent_Args ra;
	memset(&ra, 0, sizeof ra);
	ra.struct_size = PJRT_Buffer_ReadyEvent_Args_STRUCT_SIZE;
	ra.buffer = buf;
	PJRT_Error* err = api->PJRT_Buffer_ReadyEvent(&ra);
	if (!err) {
		PJRT_Event_Await_Args aa;
		memset(&aa, 0, sizeof aa);
		aa.struct_size = PJRT_Event_Await_Args_STRUCT_SIZE;
		aa.event = ra.event;
		err = api->PJRT_Event_Await(&aa);
		PJRT_Event_Destroy_Args da;
		memset(&da, 0, sizeof da);
		da.struct_size = PJRT_Event_Destroy_Args_STRUCT_SIZE;
		da.event = ra.event;
		api->PJRT_Event_Destroy(&da);
	}
	if (!err) return NULL;
	PJRT_Error_Message_Args ma;
	memset(&ma, 0, sizeof ma);
	ma.struct_size = PJRT_Error_Message_Args_STRUCT_SIZE;
	ma.error = err;
	api->PJRT_Error_Message(&ma);
	char* msg = malloc(ma.message_size + 1);
	memcpy(msg, ma.message, ma.message_size);
	msg[ma.message_size] = 0;
	PJRT_Error_Destroy_Args ea;
	memset(&ea, 0, sizeof ea);
	ea.struct_size = PJRT_Error_Destroy_Args_STRUCT_SIZE;
	ea.error = err;
	api->PJRT_Error_Destroy(&ea);
	return msg;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/gomlx/go-xla/pjrt"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

// awaitReady blocks until pb's data is on the device. PJRT defines a buffer asynchronously (a
// host-to-device copy runs on XLA's transfer stream after BufferFromHost returns; an execution's
// outputs are written after Execute returns), and cuCtxSynchronize only waits for work already
// queued, so without this a kernel can read a buffer before XLA wrote it (the first GPU run of
// TestDevicePtr read zeros). ../backend/pjrt_c_api.h is a copy of go-xla v0.4.4's (Apache 2.0); go-xla does
// not export the buffer's ready event, so its PJRT_Buffer* and PJRT_Api* are read with
// backend.FieldPtr, as in DevicePtr.
func awaitReady(pb *pjrt.Buffer) error {
	c, err := backend.FieldPtr(pb, "wrapper", "c")
	if err != nil {
		return err
	}
	api, err := backend.FieldPtr(pb, "wrapper", "plugin", "api")
	if err != nil {
		return err
	}
	cbuf, capi := *(**C.PJRT_Buffer)(c), *(**C.PJRT_Api)(api)
	if cbuf == nil || capi == nil {
		return fmt.Errorf("cuda: the PJRT buffer was already freed")
	}
	if msg := C.gg_buffer_ready(capi, cbuf); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return fmt.Errorf("cuda: waiting for a PJRT buffer: %s", C.GoString(msg))
	}
	return nil
}
