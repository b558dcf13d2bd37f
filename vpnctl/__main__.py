from vpnctl.commands import main

main()
