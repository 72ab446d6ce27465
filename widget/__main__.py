from widget.server import main

main()
