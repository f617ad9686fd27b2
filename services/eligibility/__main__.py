from services.eligibility.app import build

build().run()
