print("xdpnat")
