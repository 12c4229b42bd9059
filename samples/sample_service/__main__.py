from samples.sample_service.server import main

main()
