from services.simulator.app import build

build().run()
