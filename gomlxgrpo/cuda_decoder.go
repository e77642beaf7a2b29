//go:build cuda

package gomlxgrpo

import (
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/cuda"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// With the cuda build tag, generation decodes on the CUDA kernels (gomlxgrpo/cuda) for the models
// they support; GOMLXGRPO_DECODER=xla keeps the GoMLX path.
func init() { sample.NewDecoder = cuda.NewDecoder }
