module weft.test/goclient

go 1.19
