from hrmtrain.cli import main

main()
