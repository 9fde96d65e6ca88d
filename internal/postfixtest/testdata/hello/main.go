// Command hello is a tiny main package for GoBuild's test.
package main

import "fmt"

func main() { fmt.Println("hello from GoBuild") }
