module weft.test/httpsample

go 1.26
