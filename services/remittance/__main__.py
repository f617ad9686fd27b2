from services.remittance.app import build

build().run()
