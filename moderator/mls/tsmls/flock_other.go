//go:build !unix

package tsmls

import (
	"errors"
	"os"
)

func tryLock(*os.File) error {
	return errors.New("the ts-mls peer installer needs flock: run the tests on a unix system")
}

func unlock(*os.File) {}
