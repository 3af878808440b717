module weft.test/sidecar

go 1.19
