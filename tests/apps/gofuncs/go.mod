module weft.test/gofuncs

go 1.19
