from vpnctl.cli import main

main()
