module weft.test/goserver

go 1.19
