from stream_sentinel.cli import main

main()
