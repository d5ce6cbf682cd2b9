print("xdpnatd")
