//go:build cgo

package main

// C code of the module's own makes the go tool link externally (with the
// system's linker), which places C start-up code before runtime.text.

/*
static int answer(void) { return 42; }
*/
import "C"

func cgoAnswer() int { return int(C.answer()) }
